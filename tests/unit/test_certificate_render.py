"""The A4 proof: SC font embedded, masked holder, title text, and a refusal in words for a glyph no font has."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from devices.certificate.render import Certificate, UnprintableText, mask_id_number, mask_name, render_pdf

CLEAR_NAME = "张三丰"
CLEAR_ID = "11010119800101123X"


def proof(**changes: object) -> Certificate:
    fields: dict[str, object] = dict(
        title="参保证明", department="某市人力资源和社会保障局", serial="SB-2025-000123",
        issued=dt.date(2025, 3, 14), verify_url="https://e-licence.example/verify/SB-2025-000123",
        headings=("险种", "参保状态", "起始年月", "累计月数"),
        rows=(("企业职工基本养老保险", "正常参保", "2008-07", "200"), ("失业保险", "正常参保", "2008-07", "200")),
        paragraphs=("兹证明上述人员在本市参加社会保险。门 骨 直 写 画 册 将 说 关 过 对 内 图 边 编 号 №〇",))
    fields.update(changes)
    return Certificate.for_holder(name=CLEAR_NAME, id_number=CLEAR_ID, **fields)


def poppler(tool: str, pdf: bytes, *args: str) -> str:
    return subprocess.run([tool, *args, "-", "-"] if tool == "pdftotext" else [tool, "-"], input=pdf,
                          capture_output=True, check=True, timeout=30).stdout.decode()


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(proof())


def test_masking_keeps_surname_and_region_only() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number(CLEAR_ID) == "110101********123X"
    cert = proof()
    assert CLEAR_NAME not in repr(cert) and CLEAR_ID not in repr(cert)


def test_certificate_refuses_clear_holder_data() -> None:
    with pytest.raises(ValueError, match="masked"):
        Certificate(title="t", department="d", holder=CLEAR_NAME, holder_id="110101********123X", serial="1",
                    issued=dt.date(2025, 1, 1), verify_url="u")
    with pytest.raises(ValueError, match="masked"):
        Certificate(title="t", department="d", holder="张*", holder_id=CLEAR_ID, serial="1",
                    issued=dt.date(2025, 1, 1), verify_url="u")


def test_pdf_embeds_the_simplified_chinese_face(pdf: bytes) -> None:
    fonts = poppler("pdffonts", pdf)
    sans = [line for line in fonts.splitlines() if "NotoSansCJKSC" in line]
    assert sans, fonts
    assert all(" yes " in line.split("Custom", 1)[1] for line in sans), fonts  # emb column
    assert "NotoSerifCJKSC" in fonts
    assert "JP" not in fonts and "STSong" not in fonts


def test_pdf_text_has_title_masked_holder_and_no_clear_data(pdf: bytes) -> None:
    text = poppler("pdftotext", pdf)
    assert "参保证明" in text
    assert "张**" in text and "110101********123X" in text
    assert CLEAR_NAME not in text and CLEAR_ID not in text
    assert "企业职工基本养老保险" in text and "SB-2025-000123" in text
    assert "2025年03月14日" in text


def test_page_is_a4_and_single(pdf: bytes) -> None:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True, timeout=30).stdout.decode()
    assert "Pages:           1" in info
    assert "595.28 x 841.89 pts (A4)" in info


def test_character_no_font_has_is_refused_in_words() -> None:
    cert = proof(rows=(("企业职工基本养老保险", "正常参保", "2008-07", "\U00020000"),))
    with pytest.raises(UnprintableText) as caught:
        render_pdf(cert)
    words = str(caught.value)
    assert "U+20000" in words and "row 1 cell 4" in words and "SB-2025-000123" in words
    assert "Noto Sans CJK SC" in words and "blank" in words


def test_rare_name_character_in_noto_prints() -> None:
    cert = Certificate.for_holder(name="𬌗一", id_number=CLEAR_ID, **{
        k: v for k, v in proof().__dict__.items() if k not in ("holder", "holder_id")})
    assert "𬌗*" in poppler("pdftotext", render_pdf(cert))


def test_fallback_font_fills_what_noto_lacks() -> None:
    # U+014A (Ŋ) is in WenQuanYi Zen Hei but not in Noto Sans CJK SC: the fallback font is embedded for it
    pdf = render_pdf(proof(paragraphs=("Ŋ 参保",)))
    assert "WenQuanYi" in poppler("pdffonts", pdf)
    assert "Ŋ" in poppler("pdftotext", pdf)
