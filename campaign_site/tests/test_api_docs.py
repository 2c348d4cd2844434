"""/api/docs/: the OpenAPI document in Swagger UI, every asset served by this application."""
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.fixture
def staff():
    client = Client()
    client.force_login(get_user_model().objects.create_user("docs-staff", password="docs-pass-1", is_staff=True))
    return client


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_docs_page_references_only_this_sites_assets_and_each_is_served(staff):
    page = staff.get("/api/docs/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert re.findall(r"\b(?:https?:)?//[\w.-]+", html) == []  # no CDN, fonts or online validator
    parser = _References()
    parser.feed(html)
    assets = [url for url in parser.urls if url.startswith("/static/")]
    assert {urlsplit(url).path.rsplit("/", 1)[-1] for url in assets} == {
        "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
    assert all(urlsplit(url).netloc == "" and url.startswith("/") for url in parser.urls)
    for url in assets:
        asset = staff.get(url)
        assert asset.status_code == 200 and len(body(asset)) > 0, url
    # the document the page loads
    (schema_url,) = re.findall(r'const schemaUrl = "([^"]+)"', html) or re.findall(r'url: "([^"]+)"', html)
    schema = staff.get(schema_url)
    assert schema.status_code == 200 and b"openapi: 3." in schema.content


def test_the_admin_index_links_to_the_docs(staff):
    index = staff.get("/admin/")
    assert index.status_code == 200
    assert b'href="/api/docs/"' in index.content


def test_the_docs_page_is_as_open_as_the_document_it_shows():
    anonymous = Client()
    assert anonymous.get("/api/docs/").status_code == anonymous.get("/api/schema/").status_code


def test_collectstatic_with_the_production_storage_takes_the_docs_assets(settings, tmp_path):
    """Deploys run collectstatic with hashed names (production settings): Swagger UI's files,
    whose CSS and JS name source maps, go through it."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    call_command("collectstatic", "--noinput", "--verbosity", "0")
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    dist = "drf_spectacular_sidecar/swagger-ui-dist/"
    assert {f"{dist}swagger-ui.css", f"{dist}swagger-ui-bundle.js", f"{dist}swagger-ui-bundle.js.map"} <= set(manifest)
