"""What a run records of the code it ran."""

import subprocess

from sras_keras.core import provenance


def test_the_commit_is_read_once_per_process_so_a_later_commit_is_not_credited_with_earlier_code(monkeypatch, tmp_path):
    """A long experiment's code is loaded at its start: a commit made while it runs must not appear in the env.json
    of its later rows."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    commit(tmp_path, "a")
    provenance.git_commit.cache_clear()
    first = provenance.git_commit(tmp_path)
    commit(tmp_path, "b")
    assert len(first) == 40 and provenance.git_commit(tmp_path) == first
    provenance.git_commit.cache_clear()
    assert provenance.git_commit(tmp_path) != first  # a new process reads the new commit
    assert provenance.git_commit(tmp_path / "nowhere") == "unknown"


def commit(folder, message):
    author = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@b",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@b",
    }
    command = ["git", "-C", str(folder), "commit", "-q", "--allow-empty", "-m", message]
    subprocess.run(command, check=True, env={**author, "PATH": "/usr/bin:/bin"})
