"""workbench/process/ask.py's warm children (FRAMEBENCH_WARM_ENGINES=1, which conftest sets for the suite): one
child per framework answers question after question; a child that died is replaced, not asked."""

from __future__ import annotations

import os
import signal
import uuid

from workbench.process import ask as ask_module
from workbench.run import devices


def _warm_pids() -> set[int]:
    return {child.proc.pid for child in ask_module._WARM.values()}


def test_one_warm_child_answers_again_and_a_dead_one_is_replaced(monkeypatch):
    monkeypatch.setenv(ask_module.WARM_VAR, "1")
    monkeypatch.setenv("FRAMEBENCH_TEST_TAG", uuid.uuid4().hex)  # an environment no earlier test had: a new child
    before = _warm_pids()
    assert ask_module.ask(devices.answer, "sklearn", {"device": "auto"})[0] == {"devices": ["cpu"]}
    (pid,) = _warm_pids() - before
    assert ask_module.ask(devices.answer, "sklearn", {"device": "auto"})[0] == {"devices": ["cpu"]}
    assert _warm_pids() - before == {pid}  # the same child answered
    (child,) = [c for c in ask_module._WARM.values() if c.proc.pid == pid]
    os.kill(pid, signal.SIGKILL)
    child.proc.wait()
    assert ask_module.ask(devices.answer, "sklearn", {"device": "auto"})[0] == {"devices": ["cpu"]}
    (replacement,) = _warm_pids() - before
    assert replacement != pid


def test_without_the_variable_every_question_has_its_own_child(monkeypatch):
    monkeypatch.delenv(ask_module.WARM_VAR, raising=False)
    monkeypatch.setenv("FRAMEBENCH_TEST_TAG", uuid.uuid4().hex)
    before = _warm_pids()
    assert ask_module.ask(devices.answer, "sklearn", {"device": "auto"})[0] == {"devices": ["cpu"]}
    assert _warm_pids() == before
