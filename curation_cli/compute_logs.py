"""Step stdout/stderr written to files only: Dagster's ``LocalComputeLogManager`` without its terminal mirror.

The stock manager mirrors each step's output to the process's own stdout/stderr with a ``tail -F`` child, and
starts a second child (``watch_orphans.py``) to kill that tail if the process dies. A process killed between
the two starts (SIGKILL, the OOM killer: ``curation run`` is killed exactly while a run starts) leaves a
``tail -F`` that nothing ever stops; it holds the command's stdout and stderr open, so whatever reads them (a
CI job, ``subprocess.run``, a shell pipe) waits forever. This manager keeps the same files, so the Dagster
UI shows a step's output as before, and starts no process: a run's output goes to its files, not to the
terminal of the command or of ``dagster dev``. ``curation run`` writes it into the ``dagster.yaml`` it creates.
"""

import sys
from contextlib import contextmanager

from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._utils import ensure_file, touch_file


class FileComputeLogManager(LocalComputeLogManager):
    """Captures a step's stdout and stderr into the files ``LocalComputeLogManager`` reads back; no ``tail``."""

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "FileComputeLogManager":
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key):
        outpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        errpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        ensure_file(outpath)
        ensure_file(errpath)
        with redirect_to_file(sys.stdout, outpath), redirect_to_file(sys.stderr, errpath):
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))  # as the stock manager: the capture is complete
