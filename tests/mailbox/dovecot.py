"""A real Dovecot IMAP server on 127.0.0.1 for the tests (../shared/docs/servers.md).

``Dovecot(root).start()`` writes its own configuration under ``root`` (a
passwd-file user, a self-signed certificate for IP 127.0.0.1, a maildir),
runs ``dovecot -F`` in the foreground and waits for its imaps port;
``stop()`` ends it. Dovecot's processes run as the ``dovecot``/``dovenull``
users, so the directories are made traversable and the mail directory is
theirs. ``unavailable()`` says why the server cannot run here (None when it
can).
"""

import os
import pwd
import shutil
import socket
import subprocess
import time

USER = "jeeves"
PASSWORD = "not-a-secret-test-password"
START_SECONDS = 20

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
# the static userdb's uid is the dovecot system user's, under the default 500
first_valid_uid = {uid}
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
{ssl_dh}
auth_mechanisms = plain
# the tests log in wrongly on purpose: answer at once
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
mail_location = maildir:{root}/mail/%u/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
"""


def unavailable():
    """Why Dovecot cannot run in this test session, or None."""
    for program in ("dovecot", "doveadm", "openssl"):
        if shutil.which(program) is None:
            return "%s not on PATH (the Makefile's dovecot step installs dovecot-imapd as root)" \
                % program
    try:
        pwd.getpwnam("dovecot")
    except KeyError:
        return "no dovecot system user (dovecot-imapd is not installed properly)"
    if os.geteuid() != 0:
        return "Dovecot's mail processes need root to switch to the dovecot user"
    return None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dovecot:
    def __init__(self, root, extra_config=""):
        self.root = root
        self.extra_config = extra_config
        self.port = free_port()
        self.process = None
        self.cafile = os.path.join(root, "cert.pem")
        self.url = "imaps://%s@127.0.0.1:%d" % (USER, self.port)

    def _write_files(self):
        user = pwd.getpwnam("dovecot")
        for name in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.root, name), exist_ok=True)
        # every directory down to the files must be traversable by dovecot/dovenull
        os.chmod(self.root, 0o755)
        os.chown(os.path.join(self.root, "mail"), user.pw_uid, user.pw_gid)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", os.path.join(self.root, "key.pem"), "-out", self.cafile],
            check=True, capture_output=True)
        hashed = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PASSWORD],
                                check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(self.root, "passwd"), "w") as handle:
            handle.write("%s:%s::::::\n" % (USER, hashed))
        dh = "/usr/share/dovecot/dh.pem"
        with open(os.path.join(self.root, "dovecot.conf"), "w") as handle:
            handle.write(CONFIG.format(root=self.root, uid=user.pw_uid, gid=user.pw_gid,
                                       port=self.port,
                                       ssl_dh="ssl_dh = <%s" % dh if os.path.exists(dh) else "")
                         + self.extra_config)

    def start(self):
        self._write_files()
        return self.restart()

    def restart(self):
        """Start (again) with the files written by start(): same port, same mail."""
        self.stop()
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", os.path.join(self.root, "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("dovecot exited: %s%s" % (
                    self.process.stderr.read().decode(errors="replace"), self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("dovecot did not listen within %d s: %s" % (START_SECONDS, self.log()))

    def log(self):
        try:
            with open(os.path.join(self.root, "dovecot.log"), errors="replace") as handle:
                return handle.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
