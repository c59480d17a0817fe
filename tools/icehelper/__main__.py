"""``python tools/icehelper --config FILE``: run the ICE helper server."""
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Run as a directory, Python puts this folder first on the path: import the package instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from icehelper.server import main  # noqa: E402

sys.exit(main())
