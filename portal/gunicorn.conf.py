"""Production web server: `gunicorn -c portal/gunicorn.conf.py portal.wsgi:application`.

Sized by environment variables (gunicorn's own WEB_CONCURRENCY for the worker processes);
docs/performance.md records the measurements behind the defaults.
"""

import os

from portal.env import env_int, env_str

bind = env_str("GUNICORN_BIND", "0.0.0.0:8000")
# Threads let one process overlap its requests' database round trips; a few processes use
# both cores despite the GIL. Each thread holds at most one database connection.
worker_class = "gthread"
workers = env_int("WEB_CONCURRENCY", os.cpu_count() or 1, minimum=1)
threads = env_int("GUNICORN_THREADS", 8, minimum=1)
# Keep-alive between the load balancer and gunicorn saves a TCP handshake per API call.
keepalive = env_int("GUNICORN_KEEPALIVE", 5, minimum=0)
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = 20
backlog = 2048
# Recycle workers now and then so slow leaks cannot grow a worker without bound.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 100_000, minimum=0)
max_requests_jitter = max_requests // 10
# Load the app once in the master: workers fork with Django imported and share those pages.
preload_app = True
# Access logs are the proxy's job; error log to stderr.
accesslog = env_str("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = env_str("GUNICORN_LOG_LEVEL", "warning")
