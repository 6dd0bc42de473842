# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Connection options of every HTTP API module (module_utils/api_client.py).
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the API, for example V(http://127.0.0.1:9200) for OpenSearch.
      - A path prefix is kept (for a server behind a reverse proxy under a sub-path).
    type: str
    required: true
  user:
    description:
      - User name for HTTP basic authentication.
    type: str
    aliases: [username]
  password:
    description:
      - Password for HTTP basic authentication. Never shown in output or error messages.
    type: str
  token:
    description:
      - "Bearer token, sent as C(Authorization: Bearer <token>). Never shown in output or error messages."
      - Mutually exclusive with O(password).
    type: str
  headers:
    description:
      - Extra HTTP headers sent with every request.
      - Values here are not masked in output; put secrets in O(password) or O(token).
    type: dict
    default: {}
  validate_certs:
    description:
      - Verify the server's TLS certificate. Only turn this off for throwaway test servers.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the server certificate (a private CA).
    type: path
  client_cert:
    description:
      - PEM client certificate for mutual TLS.
    type: path
  client_key:
    description:
      - PEM private key of O(client_cert), if the certificate file does not hold it.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response.
    type: float
    default: 30.0
  retries:
    description:
      - How many times a request is repeated after a connection failure or an HTTP 502, 503 or 504,
        with exponential backoff (0.5 s, 1 s, 2 s, ...). Client errors (4xx) are never retried.
    type: int
    default: 3
notes:
  - Error messages name the HTTP method, the URL, the status and the server's own error text, never credentials.
"""
