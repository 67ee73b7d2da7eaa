# Decodes many images in one python process with crit's own library: exactly
# what `crit decode -i PATH` prints (pycriu.images.load, then json.dumps),
# one JSON document per line, or {"error": …} when crit cannot decode it.
# Usage: PYTHONPATH=<crit's python dir> python3 crit-load.py PATH...
import json
import sys

import pycriu

for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            print(json.dumps(pycriu.images.load(f, False)))
    except Exception as e:  # noqa: BLE001 - report, go on with the next
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
