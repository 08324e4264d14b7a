"""``ballast`` with one crash point armed (``BALLAST_TEST_CRASH_AT``): run as a script.

``tests/test_crash.py`` starts ``python tests/support/crash_cli.py review ...`` instead of the
``ballast`` command, so the fault injection lives in the tests, never in the product.
"""

import faults  # this script's folder is first on sys.path

from ballast.cli.app import main

if __name__ == "__main__":
    faults.arm()
    main()
