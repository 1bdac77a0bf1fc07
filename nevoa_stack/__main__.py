from nevoa_stack.cli import main

raise SystemExit(main())
