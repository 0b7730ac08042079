"""The Celery side of animgraph: task registrations (``tasks``) over the pipeline's stages
(``canvas``, ``steps``, ``notifier``, ``delivery``, ``reconciler``), and the media cores."""

from animgraph.workers.tuning import limit_blas_threads

# Before numpy is first imported, which for a worker process is the case: Celery imports this
# package before any task module.
limit_blas_threads()
