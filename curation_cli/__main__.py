"""``python -m curation_cli run ...``"""

import sys

from curation_cli.main import main

sys.exit(main())
