"""IMAP connections through imapclient, with the password never written anywhere.

``MailboxURL.parse("imaps://USER@HOST[:PORT]")`` (port 993 by default; IMAP
over TLS only). The password comes from ``$JEEVES_IMAP_PASSWORD``, else from
the ``machine HOST login USER`` entry of ``~/.netrc``. TLS is verified
against the system's CAs, or ``cafile``; ``insecure`` turns verification off
(the CLI warns). Every failure to connect, log in or select a folder is a
``MailboxError`` with one line naming the server or the folder.
"""

import imaplib
import netrc
import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

PASSWORD_VARIABLE = "JEEVES_IMAP_PASSWORD"
DEFAULT_PORT = 993
DEFAULT_TIMEOUT = 60.0
# errors of a connection that was open: the server went away or the network dropped
CONNECTION_ERRORS = (imaplib.IMAP4.abort, OSError, EOFError)


class MailboxError(Exception):
    """A problem with the mailbox the user can fix (one line)."""


class ConnectionLost(MailboxError):
    """The connection broke after it was set up; running again resumes."""


@dataclass(frozen=True)
class MailboxURL:
    user: str
    host: str
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, url):
        parsed = urlparse(url)
        if parsed.scheme != "imaps":
            raise MailboxError("mailbox URL must be imaps://USER@HOST[:PORT], not %r" % (url,))
        try:
            port = parsed.port or DEFAULT_PORT
        except ValueError:
            raise MailboxError("bad port in mailbox URL %r" % (url,)) from None
        if not parsed.username or not parsed.hostname:
            raise MailboxError("mailbox URL needs a user and a host (imaps://USER@HOST): %r"
                               % (url,))
        if parsed.password is not None:
            raise MailboxError("no password in the mailbox URL, please: set $%s or use ~/.netrc"
                               % PASSWORD_VARIABLE)
        if parsed.path not in ("", "/"):
            raise MailboxError("folders go in --folder, not in the URL: %r" % (url,))
        return cls(unquote(parsed.username), parsed.hostname, port)

    @property
    def account(self):
        """USER@HOST: who the mail belongs to, whichever port reaches it."""
        return "%s@%s" % (self.user, self.host)

    def __str__(self):
        return "imaps://%s@%s:%d" % (self.user, self.host, self.port)


@dataclass(frozen=True)
class TLSSettings:
    cafile: str = None
    insecure: bool = False

    def context(self):
        if self.cafile and not os.path.isfile(self.cafile):
            raise MailboxError("CA file not found: %s" % self.cafile)
        try:
            context = ssl.create_default_context(cafile=self.cafile)
        except ssl.SSLError as error:
            raise MailboxError("cannot read CA file %s: %s" % (self.cafile, error)) from None
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def password_for(url, environ=None):
    """The password for ``url``: $JEEVES_IMAP_PASSWORD, else ~/.netrc; MailboxError if none."""
    environ = os.environ if environ is None else environ
    if environ.get(PASSWORD_VARIABLE):
        return environ[PASSWORD_VARIABLE]
    try:
        entry = netrc.netrc().authenticators(url.host)
    except FileNotFoundError:
        entry = None
    except (netrc.NetrcParseError, OSError) as error:
        raise MailboxError("cannot read ~/.netrc: %s" % error) from None
    if entry is not None and entry[2] and entry[0] in (None, "", url.user):
        return entry[2]
    raise MailboxError("no password for %s: set $%s or add 'machine %s login %s password ...' "
                       "to ~/.netrc" % (url, PASSWORD_VARIABLE, url.host, url.user))


def connect(url, tls=None, timeout=DEFAULT_TIMEOUT, password=None):
    """A logged-in imapclient.IMAPClient for ``url``; MailboxError when that fails."""
    password = password_for(url) if password is None else password
    context = (tls or TLSSettings()).context()
    try:
        client = imapclient.IMAPClient(url.host, port=url.port, ssl=True, ssl_context=context,
                                       timeout=timeout)
    except ssl.SSLCertVerificationError as error:
        raise MailboxError("certificate of %s:%d does not verify (%s); use --cafile for a "
                           "private CA" % (url.host, url.port, error.verify_message)) from None
    except socket.gaierror as error:
        raise MailboxError("cannot resolve host %s (%s)" % (url.host, error.strerror)) from None
    except (ssl.SSLError, OSError) as error:
        raise MailboxError("cannot connect to %s:%d: %s"
                           % (url.host, url.port, getattr(error, "strerror", None) or error)
                           ) from None
    try:
        client.login(url.user, password)
    except LoginError:
        close(client)
        raise MailboxError("login to %s refused: wrong user or password" % url) from None
    except CONNECTION_ERRORS as error:
        raise MailboxError("connection to %s lost while logging in: %s" % (url, error)) from None
    return client


def select(client, folder, readonly=True):
    """Select ``folder`` -> its SELECT response; MailboxError when it does not exist."""
    try:
        return client.select_folder(folder, readonly=readonly)
    except CONNECTION_ERRORS:
        raise
    except IMAPClientError as error:
        raise MailboxError("cannot open folder %r: %s" % (folder, _text(error))) from None


def check_folders(client, folders):
    """MailboxError naming the first of ``folders`` the server does not have."""
    for folder in folders:
        if not client.folder_exists(folder):
            raise MailboxError("no folder %r on the server" % folder)


def _text(error):
    text = str(error)
    return text[2:-1] if text.startswith(("b'", 'b"')) else text


def close(client):
    """Log out, ignoring a connection that is already gone; its socket is then closed
    at once (the dead client may live on in a reference cycle until the next garbage
    collection, holding its descriptor)."""
    try:
        client.logout()
    except Exception:  # the server may already have closed it
        try:
            client.shutdown()
        except Exception:
            pass
