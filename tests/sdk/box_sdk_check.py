#!/usr/bin/env python3
"""Box's official Python SDK (box-sdk-gen) against `boxlift emulator`.

Why: the emulator is only worth something if a client written against *real* Box agrees with
it. This script drives the unmodified SDK (pinned in requirements.txt) at the emulator's URLs:
direct upload, preflight, new version, the SDK's own chunked uploader on a 60 MB file, a hand-run
upload session with Box's error cases, folders and listings, developer-token and CCG auth. Every
file is then cross-checked against `GET /_emulator/state` (the emulator's view of what landed).

Run by tests/sdk/run.sh, which starts the emulator. Prints one line per check and a last line
`sdk: N passed, M failed`; exits 1 when any check failed.
"""

import argparse
import base64
import hashlib
import io
import json
import math
import random
import sys
import time
import traceback
import urllib.error
import urllib.request

from box_sdk_gen import (
    BaseUrls,
    BoxAPIError,
    BoxCCGAuth,
    BoxClient,
    BoxDeveloperTokenAuth,
    BoxRetryStrategy,
    BoxSDKError,
    CCGConfig,
    CreateFolderParent,
    NetworkSession,
    PreflightFileUploadCheckParent,
    UploadFileAttributes,
    UploadFileAttributesParentField,
    UploadFileVersionAttributes,
    UploadWithPreflightCheckAttributes,
    UploadWithPreflightCheckAttributesParentField,
    date_time_from_string,
)

# Box's documented limits (shared/box-api.md): sessions need >= 20,000,000 bytes.
MIN_SESSION_SIZE = 20_000_000
BIG_FILE_SIZE = 60_000_000  # > 50 MB: Box requires a session; not a multiple of 8 MiB on purpose


class CheckFailed(Exception):
    """A mismatch between what the SDK/spec expects and what the emulator did."""


def expect(cond, what):
    if not cond:
        raise CheckFailed(what)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def sha1_hex(data):
    return hashlib.sha1(data).hexdigest()


def sha1_b64(data):
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def blob(seed, size):
    """Deterministic bytes, so a failure can be reproduced."""
    return random.Random(seed).randbytes(size)


def api_error(fn, *args, **kwargs):
    """Call fn, expecting a BoxAPIError; return it (fail if the call succeeded)."""
    try:
        fn(*args, **kwargs)
    except BoxAPIError as err:
        return err
    raise CheckFailed("expected an API error, the call succeeded")


def expect_api_error(err, status, code=None):
    info = err.response_info
    got = f"{info.status_code} {info.code!r} body={info.raw_body!r}"
    if isinstance(status, range):
        expect(info.status_code in status, f"expected status in {status}, got {got}")
    else:
        expect(info.status_code == status, f"expected status {status}, got {got}")
    if code is not None:
        expect(info.code == code, f"expected code {code!r}, got {got}")
    body = info.body or {}
    # Box's error body (client error shape): type "error", the status, code, message, request_id.
    expect_eq(body.get("type"), "error", f"error body 'type' ({got})")
    expect_eq(body.get("status"), info.status_code, f"error body 'status' ({got})")
    expect(isinstance(body.get("message"), str), f"error body has a 'message' ({got})")
    expect(isinstance(body.get("request_id"), str), f"error body has a 'request_id' ({got})")


def conflicts_of(err):
    """context_info.conflicts: an object for files, a list for folders (accept both)."""
    conflicts = (err.response_info.context_info or {}).get("conflicts")
    if isinstance(conflicts, dict):
        return [conflicts]
    expect(isinstance(conflicts, list) and conflicts, f"context_info.conflicts: {conflicts!r}")
    return conflicts


def check_file(file, name, data, parent_id, what):
    """A File (or FileFull) as Box returns it after an upload."""
    # Nested objects carry no raw_data in the SDK; to_dict() has every non-null JSON key.
    raw = file.to_dict()
    for key in ("id", "type", "name", "size", "sha1", "etag", "sequence_id", "file_version",
                "parent"):
        expect(key in raw, f"{what}: File lacks '{key}' (got keys {sorted(raw)})")
    expect_eq(file.type.value if hasattr(file.type, "value") else file.type, "file", f"{what} type")
    expect_eq(file.name, name, f"{what} name")
    expect_eq(file.size, len(data), f"{what} size")
    expect_eq(file.sha_1, sha1_hex(data), f"{what} sha1")
    expect_eq(file.parent.id, parent_id, f"{what} parent.id")
    expect(file.file_version is not None, f"{what}: no file_version")
    expect_eq(file.file_version.sha_1, sha1_hex(data), f"{what} file_version.sha1")
    expect(isinstance(raw.get("id"), str), f"{what}: id must be a string, got {raw.get('id')!r}")


def check_files_collection(files, what):
    raw = files.raw_data
    expect_eq(raw.get("total_count"), 1, f"{what}: Files.total_count")
    expect(isinstance(raw.get("entries"), list) and len(raw["entries"]) == 1,
           f"{what}: Files.entries must hold one file, got {raw.get('entries')!r}")
    return files.entries[0]


class Suite:
    def __init__(self, args):
        self.args = args
        self.base = args.base_url.rstrip("/")
        self.passed = 0
        self.failed = []
        self.run_id = f"{int(time.time())}-{random.randrange(1 << 30):x}"
        # name -> (sha1, size, parent id) of what must have landed; checked against the state.
        self.landed = {}
        self.absent = []  # (parent id, name) that must NOT exist

    # -- plumbing ---------------------------------------------------------------------------

    def session(self):
        urls = BaseUrls(
            base_url=self.base,  # the SDK appends /2.0/... and /oauth2/token
            upload_url=self.base + "/api",  # the SDK appends /2.0/files/content etc.
            oauth_2_url=self.base + "/oauth2",  # only used for the browser authorize URL
        )
        # Default attempts (so a 202 + retry-after commit loop still works), short backoff so a
        # misbehaving emulator fails the run quickly instead of sleeping for a minute.
        retry = BoxRetryStrategy(retry_base_interval=0.1)
        return NetworkSession(base_urls=urls, retry_strategy=retry)

    def dev_client(self, token=None):
        auth = BoxDeveloperTokenAuth(token=token or self.args.developer_token)
        return BoxClient(auth=auth, network_session=self.session())

    def ccg_client(self, secret=None):
        config = CCGConfig(
            client_id=self.args.client_id,
            client_secret=secret or self.args.client_secret,
            enterprise_id=self.args.enterprise_id,
        )
        return BoxClient(auth=BoxCCGAuth(config=config), network_session=self.session())

    def name(self, stem):
        return f"{stem}-{self.run_id}"

    def run(self, title, fn):
        started = time.monotonic()
        try:
            fn()
        except Exception as err:  # noqa: BLE001 - any failure is this check failing
            detail = str(err).strip() or type(err).__name__
            if isinstance(err, BoxAPIError):
                req, resp = err.request_info, err.response_info
                detail = (f"unexpected {resp.status_code} {resp.code!r} for {req.method} "
                          f"{req.url} {req.query_params or ''}: {resp.raw_body}")
            elif not isinstance(err, CheckFailed):
                detail = f"{type(err).__name__}: {detail}\n{traceback.format_exc()}"
            self.failed.append(title)
            print(f"FAIL {title}: {detail}", flush=True)
            return
        self.passed += 1
        print(f"ok   {title} ({time.monotonic() - started:.2f}s)", flush=True)

    def http(self, method, path, headers=None, body=None):
        """A raw request, for what the SDK hides (status of a 401, the emulator's state)."""
        req = urllib.request.Request(self.base + path, method=method, data=body,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    # -- checks -----------------------------------------------------------------------------

    def root_folder(self):
        root = self.client.folders.get_folder_by_id("0")
        expect_eq(root.id, "0", "root folder id")
        expect_eq(root.type.value, "folder", "root folder type")

    def create_folder(self):
        name = self.name("sdk-folder")
        folder = self.client.folders.create_folder(name, CreateFolderParent(id="0"))
        expect_eq(folder.type.value, "folder", "folder type")
        expect_eq(folder.name, name, "folder name")
        expect(isinstance(folder.id, str) and folder.id not in ("", "0"), f"folder id {folder.id!r}")
        expect_eq(folder.parent.id, "0", "folder parent.id")
        for key in ("etag", "sequence_id"):
            expect(key in folder.raw_data, f"folder lacks '{key}'")
        self.folder_id = folder.id
        self.folder_name = name

    def create_folder_conflict(self):
        err = api_error(self.client.folders.create_folder, self.folder_name,
                        CreateFolderParent(id="0"))
        expect_api_error(err, 409, "item_name_in_use")
        ids = [c.get("id") for c in conflicts_of(err)]
        expect(self.folder_id in ids, f"conflicts {ids} should name folder {self.folder_id}")
        # Box's names are unique case-insensitively.
        err = api_error(self.client.folders.create_folder, self.folder_name.upper(),
                        CreateFolderParent(id="0"))
        expect_api_error(err, 409, "item_name_in_use")

    def create_folder_errors(self):
        err = api_error(self.client.folders.create_folder, self.name("orphan"),
                        CreateFolderParent(id="987654321987"))
        expect_api_error(err, 404)
        err = api_error(self.client.folders.create_folder, "bad/name", CreateFolderParent(id="0"))
        expect_api_error(err, 400, "item_name_invalid")

    def delete_folder_recursive(self):
        """Box's delete: 400 folder_not_empty without recursive; recursive=True removes all.

        The SDK sends booleans as Python writes them (`recursive=True`), as Box's older SDK did
        for years; Box accepts that spelling.
        """
        name = self.name("doomed")
        doomed = self.client.folders.create_folder(name, CreateFolderParent(id="0"))
        self.client.uploads.upload_file(
            UploadFileAttributes(name="inside.bin",
                                 parent=UploadFileAttributesParentField(id=doomed.id)),
            io.BytesIO(b"x" * 10))
        err = api_error(self.client.folders.delete_folder_by_id, doomed.id)
        expect_api_error(err, 400, "folder_not_empty")
        self.client.folders.delete_folder_by_id(doomed.id, recursive=True)
        err = api_error(self.client.folders.get_folder_by_id, doomed.id)
        expect_api_error(err, 404)

    def upload_small(self):
        data = blob(1, 1000)
        name = "small.bin"
        modified = "2021-03-04T05:06:07Z"
        attrs = UploadFileAttributes(
            name=name,
            parent=UploadFileAttributesParentField(id=self.folder_id),
            content_modified_at=date_time_from_string(modified),
        )
        files = self.client.uploads.upload_file(attrs, io.BytesIO(data),
                                                content_md_5=sha1_hex(data))
        file = check_files_collection(files, "upload_file")
        check_file(file, name, data, self.folder_id, "upload_file")
        expect_eq(file.content_modified_at, date_time_from_string(modified),
                  "content_modified_at kept from attributes")
        self.small = file
        self.small_data = data
        self.landed[name] = (sha1_hex(data), len(data), self.folder_id)

    def names(self):
        """UTF-8 names round-trip; Box's length limit is 255 characters (not bytes)."""
        for name in ("naïve ünïcode 名前 😀.txt", "é" * 255):
            data = name.encode()
            files = self.client.uploads.upload_file(
                UploadFileAttributes(name=name,
                                     parent=UploadFileAttributesParentField(id=self.folder_id)),
                io.BytesIO(data))
            check_file(check_files_collection(files, "upload"), name, data, self.folder_id,
                       f"upload of {name[:20]!r}")
            self.landed[name] = (sha1_hex(data), len(data), self.folder_id)
        err = api_error(self.client.uploads.upload_file,
                        UploadFileAttributes(name="x" * 256, parent=UploadFileAttributesParentField(
                            id=self.folder_id)), io.BytesIO(b"x"))
        expect_api_error(err, 400)
        expect(err.response_info.code in ("item_name_too_long", "item_name_invalid"),
               f"256-char name: code {err.response_info.code!r}")

    def upload_small_conflict(self):
        # The same name again (a retry after a lost reply meets its own first attempt).
        attrs = UploadFileAttributes(name="SMALL.bin",
                                     parent=UploadFileAttributesParentField(id=self.folder_id))
        err = api_error(self.client.uploads.upload_file, attrs, io.BytesIO(self.small_data))
        expect_api_error(err, 409, "item_name_in_use")
        conflict = conflicts_of(err)[0]
        expect_eq(conflict.get("id"), self.small.id, "conflicts.id")
        expect_eq(conflict.get("sha1"), sha1_hex(self.small_data), "conflicts.sha1")

    def upload_bad_md5(self):
        data = blob(2, 2000)
        name = "bad-md5.bin"
        attrs = UploadFileAttributes(name=name,
                                     parent=UploadFileAttributesParentField(id=self.folder_id))
        err = api_error(self.client.uploads.upload_file, attrs, io.BytesIO(data),
                        content_md_5=sha1_hex(b"something else"))
        expect_api_error(err, range(400, 500))
        self.absent.append((self.folder_id, name))

    def preflight(self):
        ok = self.client.uploads.preflight_file_upload_check(
            name="preflight.bin", size=1234,
            parent=PreflightFileUploadCheckParent(id=self.folder_id))
        expect(isinstance(ok.upload_url, str) and ok.upload_url.startswith("http"),
               f"preflight upload_url {ok.upload_url!r}")
        err = api_error(self.client.uploads.preflight_file_upload_check, name="small.bin",
                        size=1000, parent=PreflightFileUploadCheckParent(id=self.folder_id))
        expect_api_error(err, 409, "item_name_in_use")
        # Nothing was uploaded by a preflight.
        self.absent.append((self.folder_id, "preflight.bin"))

    def upload_with_preflight(self):
        # The SDK posts to the upload_url the preflight returned: it must point at the emulator.
        data = blob(3, 3000)
        name = "with-preflight.bin"
        attrs = UploadWithPreflightCheckAttributes(
            name=name, size=len(data),
            parent=UploadWithPreflightCheckAttributesParentField(id=self.folder_id))
        files = self.client.uploads.upload_with_preflight_check(attrs, io.BytesIO(data))
        check_file(check_files_collection(files, "upload_with_preflight_check"), name, data,
                   self.folder_id, "upload_with_preflight_check")
        self.landed[name] = (sha1_hex(data), len(data), self.folder_id)

    def upload_version(self):
        data = blob(4, 1500)
        files = self.client.uploads.upload_file_version(
            self.small.id, UploadFileVersionAttributes(name="small.bin"), io.BytesIO(data),
            content_md_5=sha1_hex(data))
        file = check_files_collection(files, "upload_file_version")
        check_file(file, "small.bin", data, self.folder_id, "upload_file_version")
        expect_eq(file.id, self.small.id, "a new version keeps the file id")
        expect(file.file_version.id != self.small.file_version.id,
               "a new version has a new file_version.id")
        expect(file.etag != self.small.etag, "a new version has a new etag")
        # if-match with the stale etag must now fail with 412.
        err = api_error(self.client.uploads.upload_file_version, self.small.id,
                        UploadFileVersionAttributes(name="small.bin"), io.BytesIO(b"x"),
                        if_match=self.small.etag)
        expect_api_error(err, 412)
        self.landed["small.bin"] = (sha1_hex(data), len(data), self.folder_id)

    def copy_and_rename(self):
        from box_sdk_gen import CopyFileParent

        copy = self.client.files.copy_file(self.small.id, CopyFileParent(id=self.folder_id),
                                           name="small-copy.bin")
        sha1, size, _ = self.landed["small.bin"]
        expect(copy.id != self.small.id, "a copy is a new file")
        expect_eq((copy.name, copy.size, copy.sha_1), ("small-copy.bin", size, sha1), "copy")
        err = api_error(self.client.files.copy_file, self.small.id,
                        CopyFileParent(id=self.folder_id))
        expect_api_error(err, 409, "item_name_in_use")
        renamed = self.client.files.update_file_by_id(copy.id, name="small-renamed.bin")
        expect_eq((renamed.id, renamed.name), (copy.id, "small-renamed.bin"), "rename")
        self.landed["small-renamed.bin"] = (sha1, size, self.folder_id)

    def as_user(self):
        # A service account acting for a managed user: the As-User header is accepted.
        root = self.client.with_as_user_header("12345").folders.get_folder_by_id("0")
        expect_eq(root.id, "0", "root folder with As-User")

    def chunked_big_file(self):
        data = blob(5, BIG_FILE_SIZE)
        name = "big-60MB.bin"
        file = self.client.chunked_uploads.upload_big_file(io.BytesIO(data), name, len(data),
                                                           self.folder_id)
        check_file(file, name, data, self.folder_id, "upload_big_file")
        self.big = file
        self.landed[name] = (sha1_hex(data), len(data), self.folder_id)

    def session_errors(self):
        cu = self.client.chunked_uploads
        err = api_error(cu.create_file_upload_session, self.folder_id, 1000, "tiny.bin")
        expect_api_error(err, 400, "file_size_too_small")
        err = api_error(cu.create_file_upload_session, self.folder_id, MIN_SESSION_SIZE,
                        "small.bin")
        expect_api_error(err, 409, "item_name_in_use")

    def session_by_hand(self):
        """Box's session protocol step by step, as a resuming client drives it."""
        cu = self.client.chunked_uploads
        size = MIN_SESSION_SIZE + 1_000_001
        data = blob(6, size)
        name = "session-by-hand.bin"
        session = cu.create_file_upload_session(self.folder_id, size, name)
        raw = session.raw_data
        for key in ("id", "type", "part_size", "total_parts", "num_parts_processed",
                    "session_expires_at", "session_endpoints"):
            expect(key in raw, f"upload session lacks '{key}' (got {sorted(raw)})")
        expect_eq(raw["type"], "upload_session", "session type")
        part = session.part_size
        expect_eq(session.total_parts, math.ceil(size / part), "total_parts")
        expect_eq(session.num_parts_processed, 0, "num_parts_processed of a new session")
        ends = session.session_endpoints
        for key in ("upload_part", "commit", "abort", "list_parts", "status"):
            url = getattr(ends, key)
            expect(isinstance(url, str) and url.startswith(self.base + "/api/2.0/"),
                   f"session_endpoints.{key} = {url!r} should be on the upload host {self.base}/api")

        ranges = [(o, min(o + part, size)) for o in range(0, size, part)]

        def put(lo, hi, body=None, digest=None):
            body = data[lo:hi] if body is None else body
            return cu.upload_file_part(session.id, io.BytesIO(body),
                                       digest or f"sha={sha1_b64(body)}",
                                       f"bytes {lo}-{hi - 1}/{size}")

        # A wrong digest is rejected and the part is not kept.
        lo, hi = ranges[0]
        err = api_error(put, lo, hi, digest=f"sha={sha1_b64(b'nope')}")
        expect_api_error(err, range(400, 500))
        # A misaligned range is rejected.
        err = api_error(put, 1, part + 1)
        expect_api_error(err, range(400, 500))
        # Parts out of order (last first) are fine; each reply describes the part.
        parts = {}
        for lo, hi in reversed(ranges):
            got = put(lo, hi).part
            expect_eq((got.offset, got.size, got.sha_1), (lo, hi - lo, sha1_hex(data[lo:hi])),
                      f"uploaded part at {lo}")
            expect(isinstance(got.part_id, str) and len(got.part_id) == 8,
                   f"part_id should be 8 hex chars, got {got.part_id!r}")
            parts[lo] = got
        # Parts are immutable: the same range again overlaps.
        lo, hi = ranges[0]
        err = api_error(put, lo, hi)
        expect_api_error(err, 416, "range_overlaps_existing_part")

        listed = cu.get_file_upload_session_parts(session.id)
        expect_eq(listed.total_count, len(ranges), "list parts total_count")
        expect_eq(sorted(p.offset for p in listed.entries), [lo for lo, _ in ranges],
                  "listed part offsets")
        paged = cu.get_file_upload_session_parts(session.id, offset=1, limit=1)
        expect_eq(len(paged.entries), 1, "list parts with limit=1")
        expect_eq(paged.entries[0].offset, ranges[1][0], "list parts offset=1")
        status = cu.get_file_upload_session_by_id(session.id)
        expect_eq(status.num_parts_processed, len(ranges), "num_parts_processed after all parts")

        in_order = [parts[lo] for lo, _ in ranges]
        # A wrong whole-file digest: nothing created.
        err = api_error(cu.create_file_upload_session_commit, session.id, in_order,
                        f"sha={sha1_b64(b'wrong')}")
        expect_api_error(err, range(400, 500))
        # Parts not covering the file: nothing created.
        err = api_error(cu.create_file_upload_session_commit, session.id, in_order[:-1],
                        f"sha={sha1_b64(data)}")
        expect_api_error(err, range(400, 500))
        files = cu.create_file_upload_session_commit(session.id, in_order, f"sha={sha1_b64(data)}")
        expect(files is not None, "commit returned no body")
        check_file(check_files_collection(files, "commit"), name, data, self.folder_id, "commit")
        self.landed[name] = (sha1_hex(data), size, self.folder_id)

    def session_new_version(self):
        """A new version of an existing file through an upload session (big files)."""
        cu = self.client.chunked_uploads
        data = blob(9, MIN_SESSION_SIZE + 7)
        session = cu.create_file_upload_session_for_existing_file(self.big.id, len(data))
        part = session.part_size
        parts = []
        for lo in range(0, len(data), part):
            body = data[lo:lo + part]
            parts.append(cu.upload_file_part(session.id, io.BytesIO(body),
                                             f"sha={sha1_b64(body)}",
                                             f"bytes {lo}-{lo + len(body) - 1}/{len(data)}").part)
        files = cu.create_file_upload_session_commit(session.id, parts, f"sha={sha1_b64(data)}")
        expect(files is not None, "commit of a new-version session returned no body")
        file = check_files_collection(files, "new-version commit")
        check_file(file, self.big.name, data, self.folder_id, "new-version commit")
        expect_eq(file.id, self.big.id, "a new version keeps the file id")
        self.landed[self.big.name] = (sha1_hex(data), len(data), self.folder_id)

    def session_abort(self):
        cu = self.client.chunked_uploads
        name = "aborted.bin"
        session = cu.create_file_upload_session(self.folder_id, MIN_SESSION_SIZE, name)
        cu.delete_file_upload_session_by_id(session.id)
        err = api_error(cu.get_file_upload_session_by_id, session.id)
        expect_api_error(err, 404)
        self.absent.append((self.folder_id, name))

    def list_folder(self):
        items = self.client.folders.get_folder_items(self.folder_id,
                                                     fields=["name", "size", "sha1"])
        got = {e.name: e for e in items.entries}
        expect_eq(items.total_count, len(self.landed), "folder items total_count")
        for name, (sha1, size, _) in self.landed.items():
            expect(name in got, f"listing lacks {name} (has {sorted(got)})")
            entry = got[name]
            expect_eq(entry.type.value, "file", f"{name} type in listing")
            expect_eq(entry.to_dict().get("sha1"), sha1, f"{name} sha1 in listing")
            expect_eq(entry.to_dict().get("size"), size, f"{name} size in listing")
        for _, name in self.absent:
            expect(name not in got, f"{name} must not exist, listing has it")
        # Offset paging: one by one, every entry once.
        seen = []
        for offset in range(len(self.landed)):
            page = self.client.folders.get_folder_items(self.folder_id, offset=offset, limit=1)
            expect_eq(len(page.entries), 1, f"offset page {offset} size")
            seen.append(page.entries[0].name)
        expect_eq(sorted(seen), sorted(self.landed), "names over offset pages")
        # Marker paging: follow next_marker to the end.
        seen, marker = [], None
        for _ in range(len(self.landed) + 2):
            page = self.client.folders.get_folder_items(self.folder_id, usemarker=True,
                                                        marker=marker, limit=2)
            seen += [e.name for e in page.entries]
            expect(page.total_count is None or page.next_marker is not None
                   or len(seen) >= len(self.landed),
                   "usemarker=True (the SDK sends Python's 'True') got an offset page "
                   f"(total_count={page.total_count}, no next_marker): marker paging ignored")
            marker = page.next_marker
            if not marker:
                break
        expect_eq(sorted(seen), sorted(self.landed), "names over marker pages")
        # The folder shows in its parent.
        root = self.client.folders.get_folder_items("0", limit=1000)
        expect(any(e.id == self.folder_id for e in root.entries), "folder not listed in root")

    def get_file(self):
        file = self.client.files.get_file_by_id(self.big.id, fields=["name", "size", "sha1"])
        sha1, size, _ = self.landed[self.big.name]
        expect_eq((file.name, file.size, file.sha_1), (self.big.name, size, sha1),
                  "get_file_by_id")
        err = api_error(self.client.files.get_file_by_id, "987654321987")
        expect_api_error(err, 404, "not_found")

    def emulator_state(self):
        status, _, body = self.http("GET", "/_emulator/state")
        expect_eq(status, 200, "GET /_emulator/state status")
        state = json.loads(body)
        tree = state.get("tree")
        expect(isinstance(tree, list), f"state.tree should be a list, got {type(tree).__name__}")
        by_path = {e.get("path"): e for e in tree}
        folder = by_path.get(self.folder_name)
        expect(folder is not None, f"state has no folder {self.folder_name}")
        expect_eq((folder.get("kind"), folder.get("id")), ("folder", self.folder_id),
                  "state folder kind/id")
        ids = {"small.bin": self.small.id, self.big.name: self.big.id}
        for name, (sha1, size, parent) in self.landed.items():
            path = f"{self.folder_name}/{name}"
            entry = by_path.get(path)
            expect(entry is not None, f"state has no {path}")
            expect_eq(entry.get("kind"), "file", f"state kind of {path}")
            expect_eq(entry.get("sha1"), sha1, f"state sha1 of {path}")
            expect_eq(entry.get("size"), size, f"state size of {path}")
            expect_eq(entry.get("parent_id"), parent, f"state parent_id of {path}")
            if name in ids:
                expect_eq(entry.get("id"), ids[name], f"state id of {path}")
        expect_eq(by_path[f"{self.folder_name}/small.bin"].get("versions"), 2,
                  "state versions of small.bin (upload + new version)")
        for _, name in self.absent:
            path = f"{self.folder_name}/{name}"
            expect(path not in by_path, f"state shows {path}, which must not exist")
        counters = state.get("counters") or {}
        expect(counters.get("sessions_committed", 0) >= 2,
               f"state counters.sessions_committed {counters.get('sessions_committed')!r}")
        expect(counters.get("sessions_aborted", 0) >= 1,
               f"state counters.sessions_aborted {counters.get('sessions_aborted')!r}")

    def bad_token(self):
        status, headers, _ = self.http("GET", "/2.0/folders/0",
                                       headers={"Authorization": "Bearer not-a-token"})
        expect_eq(status, 401, "GET /2.0/folders/0 with a bad token")
        status, _, _ = self.http("GET", "/2.0/folders/0")
        expect_eq(status, 401, "GET /2.0/folders/0 without a token")
        # The SDK cannot refresh a developer token: it must surface an error, not loop.
        try:
            self.dev_client("not-a-token").folders.get_folder_by_id("0")
        except BoxSDKError:
            return
        raise CheckFailed("a bad developer token was accepted")

    def ccg(self):
        client = self.ccg_client()
        root = client.folders.get_folder_by_id("0")
        expect_eq(root.id, "0", "root via CCG")
        data = blob(7, 4096)
        name = "via-ccg.bin"
        files = client.uploads.upload_file(
            UploadFileAttributes(name=name,
                                 parent=UploadFileAttributesParentField(id=self.folder_id)),
            io.BytesIO(data))
        check_file(check_files_collection(files, "CCG upload"), name, data, self.folder_id,
                   "CCG upload")
        self.landed[name] = (sha1_hex(data), len(data), self.folder_id)
        token = client.auth.retrieve_token()
        expect(token.access_token and token.access_token != self.args.developer_token,
               "CCG should yield its own access token")
        expect(token.expires_in and token.expires_in > 0, f"expires_in {token.expires_in!r}")
        expect_eq(token.token_type.value if hasattr(token.token_type, "value")
                  else token.token_type, "bearer", "token_type")

    def ccg_bad_secret(self):
        try:
            self.ccg_client(secret="wrong-secret").folders.get_folder_by_id("0")
        except BoxAPIError as err:
            expect(err.response_info.status_code in (400, 401),
                   f"bad client secret: expected 400/401, got {err.response_info.status_code}")
            return
        raise CheckFailed("a wrong client secret was accepted")

    # -- faults: the SDK's retry logic must work against the emulator's 429/202/5xx ----------

    def switches(self, **patch):
        status, _, body = self.http("PUT", "/_emulator/config",
                                    headers={"content-type": "application/json"},
                                    body=json.dumps(patch).encode())
        expect_eq(status, 200, f"PUT /_emulator/config {patch} ({body[:200]!r})")

    def counters(self):
        status, _, body = self.http("GET", "/_emulator/state")
        expect_eq(status, 200, "GET /_emulator/state status")
        return json.loads(body)["counters"]

    def rate_limited(self):
        before = self.counters()["rate_limited"]
        self.switches(rate_limit=5.0)
        try:
            for _ in range(12):
                folder = self.client.folders.get_folder_by_id(self.folder_id)
                expect_eq(folder.id, self.folder_id, "folder under a rate limit")
        finally:
            self.switches(rate_limit=None)
        got = self.counters()["rate_limited"] - before
        expect(got > 0, "12 calls at 5/s drew no 429: the rate limit did not bite")

    def commit_202(self):
        """Box may answer a correct commit with 202 + retry-after while it processes parts.

        Real Box sends the header as lowercase `retry-after`; box-sdk-gen 1.17.0 looks it up
        case-sensitively as `Retry-After` (box/box-python-sdk#1582), so against real Box the
        SDK does not retry: the commit call returns None. The emulator must reproduce that, and
        a repeated commit must then succeed.
        """
        cu = self.client.chunked_uploads
        data = blob(8, MIN_SESSION_SIZE)
        name = "after-202.bin"
        session = cu.create_file_upload_session(self.folder_id, len(data), name)
        part = session.part_size
        parts = []
        for lo in range(0, len(data), part):
            body = data[lo:lo + part]
            parts.append(cu.upload_file_part(session.id, io.BytesIO(body),
                                             f"sha={sha1_b64(body)}",
                                             f"bytes {lo}-{lo + len(body) - 1}/{len(data)}").part)
        digest = f"sha={sha1_b64(data)}"
        before = self.counters()["faults"].get("commit_202", 0)
        self.switches(commit_202=2)
        try:
            # 1st commit, raw: a 202 with a retry-after in whole seconds, and no file yet.
            body = json.dumps({"parts": [p.to_dict() for p in parts]}).encode()
            status, headers, _ = self.http(
                "POST", f"/api/2.0/files/upload_sessions/{session.id}/commit",
                headers={"Authorization": f"Bearer {self.args.developer_token}",
                         "content-type": "application/json", "digest": digest},
                body=body)
            expect_eq(status, 202, "first commit while parts are 'processing'")
            retry_after = {k.lower(): v for k, v in headers.items()}.get("retry-after")
            expect(retry_after is not None and retry_after.isdigit(),
                   f"202 must carry retry-after in seconds, headers {headers}")
            # 2nd commit through the SDK: None (202 not retried, SDK bug #1582) or the file.
            files = cu.create_file_upload_session_commit(session.id, parts, digest)
            for _ in range(5):
                if files is not None:
                    break
                time.sleep(int(retry_after))
                files = cu.create_file_upload_session_commit(session.id, parts, digest)
        finally:
            self.switches(commit_202=0)
        expect(files is not None, "commit still 202 after the configured two")
        check_file(check_files_collection(files, "commit after 202s"), name, data,
                   self.folder_id, "commit after 202s")
        self.landed[name] = (sha1_hex(data), len(data), self.folder_id)
        got = self.counters()["faults"].get("commit_202", 0) - before
        expect_eq(got, 2, "202 replies sent")

    def server_errors(self):
        before = self.counters()["requests"]
        self.switches(fail_rate=1.0)
        try:
            err = api_error(self.client.folders.get_folder_by_id, self.folder_id)
        finally:
            self.switches(fail_rate=0.0)
        expect_api_error(err, range(500, 600))
        after = self.counters()["requests"]
        route = "GET /2.0/folders/{id}"

        def fives(c):
            return sum(n for code, n in c.get(route, {}).items() if code.startswith("5"))

        # BoxRetryStrategy: 5 attempts in all on 5xx.
        expect_eq(fives(after) - fives(before), 5, f"5xx replies on {route}")

    def all(self):
        self.client = self.dev_client()
        steps = [
            ("root folder", self.root_folder),
            ("create folder", self.create_folder),
        ]
        for title, fn in steps:
            self.run(title, fn)
        if self.failed:
            return  # nothing else can run without a folder
        steps = [
            ("folder name conflict -> 409 item_name_in_use", self.create_folder_conflict),
            ("folder errors (missing parent, bad name)", self.create_folder_errors),
            ("delete folder: not empty -> 400, recursive=True -> gone", self.delete_folder_recursive),
            ("direct upload (uploads.upload_file)", self.upload_small),
            ("direct upload name conflict -> 409 with conflicts", self.upload_small_conflict),
            ("UTF-8 names and the 255-character limit", self.names),
            ("direct upload with wrong content-md5 rejected", self.upload_bad_md5),
            ("preflight check", self.preflight),
            ("upload_with_preflight_check", self.upload_with_preflight),
            ("new version (upload_file_version, if-match)", self.upload_version),
            (f"chunked upload_big_file ({BIG_FILE_SIZE} bytes)", self.chunked_big_file),
            ("upload session errors", self.session_errors),
            ("upload session by hand (parts, list, status, commit)", self.session_by_hand),
            ("upload session for a new version", self.session_new_version),
            ("upload session abort", self.session_abort),
            ("copy_file (409 on a taken name) and rename", self.copy_and_rename),
            ("As-User header", self.as_user),
            ("CCG auth (BoxCCGAuth) + upload", self.ccg),
            ("CCG with a wrong secret rejected", self.ccg_bad_secret),
            ("bad token -> 401", self.bad_token),
            ("429: the SDK backs off and succeeds", self.rate_limited),
            ("commit 202 + retry-after, then a repeated commit", self.commit_202),
            ("5xx: the SDK retries, then reports Box's error", self.server_errors),
            ("list folder (fields, offset and marker paging)", self.list_folder),
            ("get_file_by_id", self.get_file),
            ("GET /_emulator/state agrees", self.emulator_state),
        ]
        for title, fn in steps:
            self.run(title, fn)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="emulator root, e.g. http://127.0.0.1:8080")
    parser.add_argument("--developer-token", default="dev-token")
    parser.add_argument("--client-id", default="emu-client")
    parser.add_argument("--client-secret", default="emu-secret")
    parser.add_argument("--enterprise-id", default="1")
    args = parser.parse_args()
    suite = Suite(args)
    try:
        suite.all()
    except KeyboardInterrupt:
        suite.failed.append("interrupted")
    for title in suite.failed:
        print(f"failed: {title}")
    print(f"sdk: {suite.passed} passed, {len(suite.failed)} failed")
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
