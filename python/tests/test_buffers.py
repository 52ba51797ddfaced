"""offload.SharedBuffer: memory a worker writes in place, from Python."""

import pytest
from PyQt6.QtCore import QObject

import offload
from conftest import wait_until


def test_a_worker_writes_the_applications_memory(app, worker_pool):
    pool = worker_pool(max_workers=1)
    owner = QObject()
    buf = offload.SharedBuffer(64 * 1024)
    assert len(buf) == buf.size == 64 * 1024 and not buf.sealed
    view = memoryview(buf)
    assert not view.readonly and bytes(view[:4]) == b"\0\0\0\0"
    view[:] = b"\1" * len(buf)
    task = pool.submit(owner, "touch", {"write": 7}, buffers=[buf])
    wait_until(lambda: task.is_final)
    result = task.result()
    assert result.value == [False]
    assert bytes(view) == b"\7" * len(buf)  # the very memory, not a copy
    assert len(result.buffers) == 1
    assert bytes(memoryview(result.buffers[0])) == b"\7" * len(buf)


def test_a_sealed_buffer_is_read_only_in_the_worker_and_here(app, worker_pool):
    pool = worker_pool(max_workers=1)
    owner = QObject()
    buf = offload.SharedBuffer(4096)
    buf.seal()
    assert buf.sealed and memoryview(buf).readonly
    task = pool.submit(owner, "touch", {"write": 7}, buffers=[buf])
    wait_until(lambda: task.is_final)
    assert task.result().value == [True]
    assert bytes(memoryview(buf)) == bytes(4096)
    viewed = offload.SharedBuffer(4096)
    memoryview(viewed)
    with pytest.raises(ValueError):
        viewed.seal()  # a view of it was made: sealing would move the bytes under it


def test_what_is_not_a_buffer_is_refused(app, worker_pool):
    pool = worker_pool(max_workers=1)
    with pytest.raises(ValueError):
        offload.SharedBuffer(0)
    with pytest.raises(TypeError):
        pool.submit(QObject(), "touch", {"write": 1}, buffers=[b"bytes are not a buffer"])
