"""What the tests share: the pytest plugin (fixtures), factories, waiting, reading topics back,
the web server, publishing, the TCP proxy and the invariant checker. Test modules import from
here, never from conftest.py or from each other."""
