import sys

from chemmap.cli.main import main

sys.exit(main())
