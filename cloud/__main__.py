from cloud.cli import main

raise SystemExit(main())
