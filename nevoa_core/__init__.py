"""The pure domain core of nevoa: wire format, topic names, tariffs and alert rules.

Everything here uses the standard library only, so that the meter simulator, the fog
node and the cloud share one definition of each fact and it can be tested without any
server.
"""
