from __future__ import annotations

import pytest

from tests import support_browser


def test_a_machine_that_cannot_install_chromium_fails_the_page_tests_saying_why(monkeypatch) -> None:
    unavailable = support_browser.BrowserUnavailable("chromium is not installed and there is no apt-get")
    monkeypatch.setattr(support_browser, "_ensure", lambda: unavailable)

    with pytest.raises(pytest.fail.Exception, match="cannot be installed here: chromium is not installed"):
        support_browser.chromium()
