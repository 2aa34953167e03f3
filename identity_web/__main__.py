import sys

from identity_web.cli import main

sys.exit(main())
