from tests.lifecycle.conftest import book, no_task_queue, tick  # noqa: F401  (shared fixtures)
