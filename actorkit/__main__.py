"""``python -m actorkit`` is the ``actorkit`` command."""

import sys

from .cli import main

sys.exit(main())
