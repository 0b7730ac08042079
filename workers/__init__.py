"""The Celery side of animgraph: tasks (``tasks``), their app (``app``) and the media pipeline."""

import os

# The media code calls BLAS only for small products (a 3-vector per pixel in temporal.texture,
# k-means over a few thousand colours), where OpenBLAS's thread pool gains nothing, and after
# each call its threads spin on the other cores for a while: 13 % of the CPU time of a GIF
# encode (perf), taken from FFmpeg's decode threads or the other pool processes. One thread,
# unless the deployment sets it; this must run before numpy is first imported, which for a
# worker process is the case (Celery imports this package before any task module).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
