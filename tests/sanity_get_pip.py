"""Offline stand-in for the get-pip.py bootstrap script that ansible-test fetches.

ansible-test creates empty virtual environments and runs a cached get-pip.py in
them; that script is downloaded from a host this project's machines cannot
reach. This one does the same job with what Python ships (ensurepip) and the
package index: install the bundled pip, then let it install the exact pip
version and packages ansible-test asked for.
"""

import os
import subprocess
import sys

# ansible-test runs pip with a trimmed environment; keep the host's CA bundle
# (a TLS-inspecting proxy may sit in front of the index) for every later pip
# call in this virtual environment via its own pip.conf.
for candidate in (
    os.environ.get("PIP_CERT"),
    os.environ.get("SSL_CERT_FILE"),
    os.environ.get("REQUESTS_CA_BUNDLE"),
    "/etc/ssl/certs/ca-certificates.crt",
):
    if candidate and os.path.isfile(candidate):
        with open(os.path.join(sys.prefix, "pip.conf"), "w") as conf:
            conf.write("[global]\ncert = %s\n" % candidate)
        break

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in the
# environment of whoever calls it, which would hide the pip.conf above.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
