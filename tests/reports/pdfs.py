"""Reading the PDF reports back: their text and pages, with pypdfium2."""

import re

import pypdfium2 as pdfium


class Pdf:
    """A PDF's pages and its text; `in` reads it with whitespace squashed, so that a line the layout
    wrapped still reads whole."""

    def __init__(self, data):
        assert data.startswith(b"%PDF-"), data[:200]
        self.bytes = len(data)
        document = pdfium.PdfDocument(data)
        try:
            self.pages = len(document)
            texts = []
            for page in document:
                textpage = page.get_textpage()
                texts.append(textpage.get_text_range())
                textpage.close()
                page.close()
        finally:
            document.close()
        self.text = "\n".join(texts)
        self.squashed = squash(self.text).casefold()

    def __contains__(self, text):
        """Whether the PDF reads `text`, whatever the whitespace and case (headings print in capitals)."""
        return squash(text).casefold() in self.squashed

    def count(self, text):
        return self.squashed.count(squash(text).casefold())


def squash(text):
    """The text without whitespace (and the soft hyphens or line breaks a layout adds)."""
    return re.sub(r"[\s\u00ad\ufffe\x02]+", "", text)


def pdf_of(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    return Pdf(response.content)
