"""Running nevoa locally: real Mosquitto and Redis on free loopback ports, the fog
nodes, the cloud and a demo fleet (``make run``), and the same services for the tests."""
