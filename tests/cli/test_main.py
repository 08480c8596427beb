import subprocess
import sys

from labelassist import __version__
from labelassist.cli import main


def test_version_flag():
    out = subprocess.run([sys.executable, "-m", "labelassist", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"labelassist {__version__}"


def test_no_command_prints_help_and_usage_exit(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
