import sys

from hotline1567.cli import main

sys.exit(main())
