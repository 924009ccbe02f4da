import sys
root = sys.argv[1]
def edit(path, pairs):
    p = f"{root}/{path}"
    s = open(p).read()
    for a, b in pairs:
        assert a in s, (path, a[:80])
        s = s.replace(a, b)
    open(p, "w").write(s)
edit("yamlcrawl/http/session.py", [('''        transport: Makes this process's transport for files from the settings (once per
            process).''','''        transport: None (the default): files go through this process's libcurl engine
            (curl.py). Else a factory of this process's transport for files, made from the
            settings once per process: how a test hands the session a fake one (as
            tests/support.py's MockTransport, answering without a network), or `new_client`
            for urllib3's.'''), ('''    def client(self) -> Transport:
        """This process's transport for files, made on first use (never one made before a
        fork)."""
        return _per_process(self._made, lambda: self.transport(self.settings))''','''    def client(self) -> Transport:
        """This process's transport for files, made on first use (never one made before a
        fork): `transport`'s, or urllib3's (`new_client`) when files go through libcurl."""
        make = self.transport or new_client
        return _per_process(self._made, lambda: make(self.settings))''')])
edit("tests/test_fetch.py", [('''    # the chunks of the failed attempt were reported, then taken back in one call
    assert progress[:3] == [fetch._CHUNK, fetch._CHUNK, -2 * fetch._CHUNK]''','''    # the chunks of the failed attempt were reported, then taken back in one call
    back = next(n for n, amount in enumerate(progress) if amount < 0)
    assert sum(progress[:back]) == -progress[back] >= 2 * fetch._CHUNK''')])
edit("yamlcrawl/http/curl.py", [
    ("from yamlcrawl.http.transport import RedirectError, _ca_bundle, _follow", "from yamlcrawl.http.transport import RedirectError, _follow, ca_bundle"),
    ("else _ca_bundle()", "else ca_bundle()"),
    ('''    cert: str | tuple[str, str] | None = getattr(settings, "cert", None)''', '''    cert = settings.cert'''),
])
