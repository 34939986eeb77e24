"""Best of N on a remote engine (no candidates call: one take after another, over a real
``EngineServer``) gives the candidates the local engine's batch gives, each checked and kept."""

from __future__ import annotations

import numpy as np
import pytest

from csm_desktop.dialogue.project import Project
from csm_desktop.dialogue.render import Renderer
from csm_desktop.services.engine_server import EngineServer
from csm_desktop.services.remote import RemoteEngine

TOKEN = "best-of-test-token"


@pytest.fixture(scope="module")
def server(tiny_generator):
    srv = EngineServer(tiny_generator, TOKEN, port=0).start()
    yield srv
    srv.stop()


def _project(folder):
    project = Project.new("Alice: Hello over there.\nBob: Hi.\n")
    project.settings.seed = 5
    project.settings.best_of = 3
    project.settings.max_line_ms = 400
    project.settings.cap_from_text = False
    project.save(folder)
    return project


def test_remote_candidates_are_the_local_batch_candidates(server, tiny_generator, tmp_path):
    remote = RemoteEngine(server.url, TOKEN)
    assert not hasattr(remote, "generate_candidates")
    project = _project(tmp_path / "remote")
    renderer = Renderer(project, remote)
    report = renderer.render()
    assert report.generated == [0, 1] and len(report.checks) == 6
    local_project = _project(tmp_path / "local")
    local = Renderer(local_project, tiny_generator)
    local.render([0])
    remote_codes = [renderer.store.codes(k, remote.codec_identity) for k in renderer.plan(0).candidate_keys[:3]]
    local_codes = [local.store.codes(k, tiny_generator.codec_identity) for k in local.plan(0).candidate_keys[:3]]
    assert all(c is not None for c in remote_codes + local_codes)
    for r, lc in zip(remote_codes, local_codes):
        np.testing.assert_array_equal(r.numpy(), lc.numpy())
    for i in range(2):
        assert project.line(i).chosen_take in renderer.plan(i).candidate_keys[:3]
        assert all(renderer.store.check(k) is not None for k in renderer.plan(i).candidate_keys[:3])
