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


def test_frames_reach_the_context_latest_first(app, worker_pool):
    pool = worker_pool(max_workers=1)
    owner = QObject()
    got = []
    kept = []

    def on_frame(frame):
        got.append((frame.sequence, frame.skipped, frame.value["i"]))
        view = memoryview(frame.buffers[0])
        assert bytes(view[:1]) == bytes([frame.sequence % 251])
        assert bytes(view) == bytes([frame.sequence % 251]) * len(view)
        if len(kept) < 1:
            kept.append(frame)  # held: its buffer stays lent, the other one serves the rest

    task = pool.submit(owner, "frames", {"count": 50, "size": 8192}, on_frame=on_frame)
    ended = []
    task.on_finished(lambda t: ended.append(len(got)))
    wait_until(lambda: ended)  # frames come before the finished callbacks
    assert ended == [len(got)]
    assert task.result().value == 50
    assert got[-1][0] == 50 and got[-1][2] == 50
    assert len(got) + sum(skipped for _, skipped, _ in got) == 50
    assert [s for s, _, _ in got] == sorted(s for s, _, _ in got)
    first = kept[0]
    assert bytes(memoryview(first.buffers[0])) == bytes([first.sequence % 251]) * 8192
    with pytest.raises(TypeError):
        pool.submit(owner, "frames", {"count": 1}, on_frame=42)
