import sys

from nevoa_chaos.cli import main

sys.exit(main())
