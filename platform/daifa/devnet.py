"""The local devnet: anvil from the project's node_modules, started with --prune-history (anvil otherwise
keeps every block's state on disk: ~500 MB per 2,500 blocks), its files in a folder of ours.

It keeps the last HISTORY_STATES states in memory rather than the bare flag's one: with only the newest, a
read at "latest" that races a block being mined asks for a state already dropped and fails with
BlockOutOfRangeError (about once in 3,000 reads while blocks are mined back to back).

`daifa devnet up` keeps one running in the background under var/devnet; the tests and the demo start
short-lived ones in temporary folders. `down` stops it and removes its folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

from daifa.chain.artifacts import load_artifact
from daifa.chain.client import http_web3
from daifa.errors import DaifaError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANVIL_IN_NODE_MODULES = PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def default_state_dir() -> Path:
    """var/devnet in the project, or $DAIFA_DEVNET_DIR."""
    return Path(os.environ.get("DAIFA_DEVNET_DIR", PROJECT_ROOT / "var" / "devnet"))


DEFAULT_PORT = 8545
DEVNET_CHAIN_ID = 31337
HISTORY_STATES = 64  # block states anvil keeps in memory (see above)
# anvil's first development account (mnemonic "test test ... junk"): public knowledge, for devnets only.
DEV_OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class DevnetError(DaifaError):
    code = "devnet_error"


def find_anvil() -> Path:
    """anvil: $DAIFA_ANVIL, else the project's node_modules, else the PATH."""
    for candidate in (os.environ.get("DAIFA_ANVIL"), ANVIL_IN_NODE_MODULES, shutil.which("anvil")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise DevnetError("anvil not found: run `npm ci` in the project (or set DAIFA_ANVIL to an anvil binary)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Devnet:
    state_dir: Path = field(default_factory=default_state_dir)
    port: int = DEFAULT_PORT
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "anvil.pid"

    def up(self, prune_history: bool = True, extra_args: tuple[str, ...] = ()) -> int:
        """Starts anvil in the background; returns its pid. Refuses if this folder's devnet is running."""
        if self.pid() is not None:
            raise DevnetError(f"a devnet is already running at {self.url}: `daifa devnet down` first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        home = self.state_dir / "home"  # anvil keeps its temporary state under ~/.foundry
        home.mkdir(exist_ok=True)
        log = open(self.state_dir / "anvil.log", "ab")  # noqa: SIM115 (the child process owns it)
        process = subprocess.Popen(
            [
                str(find_anvil()),
                "--port",
                str(self.port),
                *(["--prune-history", str(HISTORY_STATES)] if prune_history else []),
                "--hardfork",
                "prague",
                *extra_args,
            ],
            env={**os.environ, "HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._process = process  # started here: reaped here when it stops
        self._pid_file.write_text(f"{process.pid} {self.port}\n")
        deadline = time.monotonic() + 20
        while not self.web3().is_connected():
            if process.poll() is not None or time.monotonic() > deadline:
                self.down()
                raise DevnetError(f"anvil did not start on port {self.port}: see {self.state_dir / 'anvil.log'}")
            time.sleep(0.05)
        return process.pid

    def down(self) -> bool:
        """Stops the devnet and removes its folder; False if none was running."""
        stopped = self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return stopped

    def stop(self) -> bool:
        """Stops anvil and keeps its folder (a node started with --state writes it on the way out)."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            if self._process is not None:
                self._process.wait(timeout=10)
                self._process = None
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.05)
            self._pid_file.unlink(missing_ok=True)
        return pid is not None

    def pid(self) -> int | None:
        try:
            pid_text, port_text = self._pid_file.read_text().split()
        except (FileNotFoundError, ValueError):
            return None
        self.port = int(port_text)
        return int(pid_text) if _alive(int(pid_text)) else None

    def web3(self) -> Web3:
        return http_web3(self.url)

    @classmethod
    def running(cls, elsewhere: str = "") -> Devnet:
        """The devnet `daifa devnet up` started; refused with what to do when none runs (`elsewhere` adds
        what to do on another chain)."""
        devnet = cls()
        if devnet.pid() is None:
            raise DaifaError(f"no devnet running: `daifa devnet up` first{elsewhere}")
        return devnet

    @classmethod
    def running_url(cls) -> str:
        """The URL of the devnet `daifa devnet up` started (its port read from var/devnet), or the default."""
        devnet = cls()
        devnet.pid()  # reads the port it was started on, if it runs
        return devnet.url

    def fund(self, token: str, account: str, amount: int, wei: int) -> int:
        """Mints `amount` of the devnet test dollar at `token` to `account` through its faucet (a call at a
        time up to its limit, sent from dev account 9, which the platform never uses) and adds `wei` to
        its ether; returns the amount."""
        w3 = self.web3()
        faucet = w3.eth.contract(address=Web3.to_checksum_address(token), abi=load_artifact("DaifaTestDollar")["abi"])
        limit = int(faucet.functions.FAUCET_LIMIT().call())
        sender = list(w3.eth.accounts)[9]
        left = amount
        while left > 0:
            chunk = min(left, limit)
            w3.eth.wait_for_transaction_receipt(faucet.functions.faucet(account, chunk).transact({"from": sender}))
            left -= chunk
        if wei:
            balance = int(w3.eth.get_balance(Web3.to_checksum_address(account)))
            w3.provider.make_request("anvil_setBalance", [account, hex(balance + wei)])  # type: ignore[arg-type]
        return amount

    def advance(self, seconds: int) -> int:
        """Moves the devnet's clock forward and mines a block; the new time."""
        w3 = self.web3()
        now = int(w3.eth.get_block("latest")["timestamp"])
        w3.provider.make_request("evm_setNextBlockTimestamp", [now + seconds])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return int(w3.eth.get_block("latest")["timestamp"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def parse_duration(text: str) -> int:
    """`90s`, `15m`, `6h`, `30d`, `2w` (or plain seconds) as seconds."""
    units = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    if not number.isdigit():
        raise DevnetError(f"{text!r} is not a duration: write it like 90s, 15m, 6h, 30d or 2w")
    return int(number) * units[unit]
