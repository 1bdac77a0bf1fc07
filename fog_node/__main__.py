from fog_node.cli import main

raise SystemExit(main())
