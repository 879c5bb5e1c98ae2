"""The documentation site (scripts/docs_site.sh: antsibull-docs and Sphinx, as docs.ansible.com builds collection
docs), opened in a real browser: Debian's Chromium, headless, prints each page's DOM after it has rendered. Every
module page has its options table with a row per option of its DOCUMENTATION, its examples and its return values;
every role page its options table with a row per option of its argument_specs; the guide pages are there; every link
between pages resolves, to a page and to an anchor on it. The index's screenshot is kept for a person to look at."""

from __future__ import annotations

import concurrent.futures
import html.parser
import os
import re
import subprocess
import urllib.parse

import pytest
import yaml

from tests.conftest import CACHE, REPO

pytestmark = pytest.mark.docs

GUIDES = ("getting_started", "upgrades_and_rollback", "operator", "troubleshooting")
SCREENSHOT = os.path.join(CACHE, "docs-site-index.png")


class Page(html.parser.HTMLParser):
    """What the test reads of a rendered page: element ids, links, tables' classes, pre blocks' text."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.tables, self.pre = set(), [], [], []
        self._in_pre = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "table":
            self.tables.append(attrs.get("class") or "")
        if tag == "pre":
            self._in_pre += 1
            self.pre.append("")

    def handle_endtag(self, tag):
        if tag == "pre" and self._in_pre:
            self._in_pre -= 1

    def handle_data(self, data):
        if self._in_pre:
            self.pre[-1] += data


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("docs-site"))
    built = subprocess.run(["bash", os.path.join(REPO, "scripts", "docs_site.sh"), out], capture_output=True, check=False,
                           text=True, timeout=900)
    assert built.returncode == 0, "docs_site.sh failed:\n%s\n%s" % (built.stdout[-3000:], built.stderr[-5000:])
    return os.path.join(out, "html")


@pytest.fixture(scope="module")
def chromium():
    found = subprocess.run(["bash", os.path.join(REPO, "testbed", "docs", "chromium.sh")], capture_output=True, check=False,
                           text=True, timeout=900)
    assert found.returncode == 0, found.stderr[-3000:]
    return found.stdout.strip().splitlines()[-1]


def browser(chromium, profile, *args):
    """Headless Chromium on a profile of its own (it refuses a second process on the same profile)."""
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--user-data-dir=/tmp/flinkops-chromium-%s" % profile] + list(args),
                          capture_output=True, text=True, timeout=120, check=False)


def rendered(chromium, path):
    """The page's DOM as Chromium has rendered it (scripts run)."""
    done = browser(chromium, os.path.basename(path), "--virtual-time-budget=3000", "--dump-dom", "file://" + path)
    assert done.returncode == 0 and "<html" in done.stdout, (path, done.stderr[-2000:])
    page = Page()
    page.feed(done.stdout)
    return page


def module_names():
    return sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules"))
                  if name.endswith(".py") and not name.startswith("_"))


def role_names():
    return sorted(name for name in os.listdir(os.path.join(REPO, "roles"))
                  if os.path.exists(os.path.join(REPO, "roles", name, "meta", "argument_specs.yml")))


def module_doc(name, part):
    with open(os.path.join(REPO, "plugins", "modules", name + ".py")) as handle:
        text = handle.read()
    return yaml.safe_load(re.search(part + r' = r?"""(.*?)"""', text, re.S).group(1))


def anchor(name):
    return name.replace(".", "").lower()


@pytest.fixture(scope="module")
def pages(site, chromium):
    """Every HTML page of the site, rendered by Chromium (two at a time)."""
    paths = sorted(os.path.join(root, name) for root, _dirs, names in os.walk(site) for name in names
                   if name.endswith(".html") and "_static" not in root and "_sources" not in root)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(paths, pool.map(lambda p: rendered(chromium, p), paths)))


def test_every_module_page_has_its_options_examples_and_return_values(site, pages):
    for name in module_names():
        page = pages[os.path.join(site, name + "_module.html")]
        assert any("ansible-option-table" in t for t in page.tables), name
        options = module_doc(name, "DOCUMENTATION")["options"]
        missing = [o for o in options if "parameter-%s" % o not in page.ids]
        assert not missing, (name, missing)
        assert "examples" in page.ids, name
        assert any("flinkops.flink.%s:" % name in block for block in page.pre), (name, "no example of the module")
        returns = module_doc(name, "RETURN") or {}
        missing = [r for r in returns if "return-%s" % r not in page.ids]
        assert not missing, (name, missing)


def test_every_role_page_has_its_options(site, pages):
    for name in role_names():
        page = pages[os.path.join(site, name + "_role.html")]
        assert any("ansible-option-table" in t for t in page.tables), name
        with open(os.path.join(REPO, "roles", name, "meta", "argument_specs.yml")) as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        for entry, spec in specs.items():
            missing = [o for o in spec.get("options") or {} if "parameter-%s--%s" % (entry, o) not in page.ids]
            assert not missing, (name, entry, missing)


def test_the_index_links_every_page_and_the_guides_are_there(site, pages):
    index = pages[os.path.join(site, "index.html")]
    linked = set(urllib.parse.urldefrag(link)[0] for link in index.links)
    wanted = ["%s_module.html" % m for m in module_names()] + ["%s_role.html" % r for r in role_names()] + \
        ["docsite/%s.html" % g for g in GUIDES]
    assert not [w for w in wanted if w not in linked], sorted(linked)
    for guide in GUIDES:
        page = pages[os.path.join(site, "docsite", guide + ".html")]
        assert "ansible-collections-flinkops-flink-docsite-%s" % guide.replace("_", "-") in page.ids, guide


def test_every_link_between_pages_resolves(site, pages):
    broken = []
    checked = 0
    for path, page in pages.items():
        for link in page.links:
            parts = urllib.parse.urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue  # the web (docs.ansible.com and the like): not reachable here
            target = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(parts.path))) \
                if parts.path else path
            checked += 1
            if not os.path.exists(target):
                broken.append((os.path.relpath(path, site), link, "no such file"))
            elif parts.fragment and target in pages and parts.fragment not in pages[target].ids:
                broken.append((os.path.relpath(path, site), link, "no such anchor"))
    assert checked > 500 and not broken, (checked, broken[:20])


def test_the_index_renders_in_the_browser(site, chromium):
    """A screenshot of the index (kept at $FLINKOPS_CACHE/docs-site-index.png to be looked at): a PNG of the
    window's size, not a blank page (many colours)."""
    if os.path.exists(SCREENSHOT):
        os.remove(SCREENSHOT)
    done = browser(chromium, "screenshot", "--window-size=1280,900", "--hide-scrollbars", "--screenshot=%s" % SCREENSHOT,
                   "file://" + os.path.join(site, "index.html"))
    assert done.returncode == 0 and os.path.exists(SCREENSHOT), done.stderr[-2000:]
    with open(SCREENSHOT, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 900), (width, height)
    assert len(data) > 30000, len(data)  # a blank or error page compresses to a few KB
