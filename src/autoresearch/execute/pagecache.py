"""One page-cache state for every run of a comparison: the run's files are read into the cache first.

Interleaved runs of two experiments share a machine, and one run can change what the next one finds:
a candidate that evicts the benchmark's data from the page cache as it exits (posix_fadvise
DONTNEED, or reading gigabytes of something else) makes whichever run comes next read from disk,
and under the paired rule the next run is most often the incumbent's. Reading the run's files right
before each re-measurement gives both sides the same start, whatever the previous run did.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_SKIPPED = frozenset({".git", ".autoresearch", "__pycache__"})
_BLOCK = 1 << 20
DEFAULT_LIMIT = 1 << 30  # never read more than this much (or a quarter of the available memory)


def _available_memory() -> int:
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return DEFAULT_LIMIT


def warm(root: Path, limit: int | None = None) -> int:
    """Read every regular file under ROOT once (links are not followed; git's and autoresearch's own
    folders are skipped), at most LIMIT bytes in all; returns the bytes read.

    What fits stays in the page cache for the run that follows. A file that cannot be read is left
    alone: warming is a courtesy to the measurement, never a reason for a run to fail.
    """
    budget = min(DEFAULT_LIMIT, _available_memory() // 4) if limit is None else limit
    done = 0
    for directory, dirs, files in os.walk(root):  # os.walk does not descend into links to folders
        dirs[:] = [name for name in dirs if name not in _SKIPPED]
        for name in files:
            if done >= budget:
                return done
            try:
                fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                while done < budget:
                    block = os.read(fd, min(_BLOCK, budget - done))
                    if not block:
                        break
                    done += len(block)
            except OSError:
                continue
            finally:
                os.close(fd)
    return done
