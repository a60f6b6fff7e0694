"""The kiosk UI's view models without pygame: every screen of every flow, in both orientations, has its
targets (and only those) at ≥ 15 mm, on the panel, apart, hit-testable back to their Touch, readable."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Button, Touch
from kiosk.flows.words import NO_WORDS, Words
from screens.kiosk_models import (
    ALERT_BG,
    DEFAULT_DPI,
    PLANS,
    KioskView,
    Names,
    Style,
    contrast,
    hit,
    kiosk_view,
    masked_only,
    min_target_px,
)
from tests.support.kiosk_flows import hall
from tests.support.kiosk_shows import every_show

SIZES = [(1080, 1920), (1920, 1080)]
SHOWS = every_show()
NAMES = Names.from_hall(hall())


def inside(box: tuple[int, int, int, int], size: tuple[int, int]) -> bool:
    x, y, w, h = box
    return x >= 0 and y >= 0 and x + w <= size[0] and y + h <= size[1] and w > 0 and h > 0


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def centre(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2


def all_pages(show: Show, size: tuple[int, int], dpi: float = DEFAULT_DPI) -> list[KioskView]:
    first = kiosk_view(show, NAMES, size, dpi=dpi)
    return [first] + [kiosk_view(show, NAMES, size, dpi=dpi, page=p) for p in range(1, first.pages)]


def test_the_scripted_sessions_reach_every_screen_and_every_screen_has_a_plan() -> None:
    assert {show.screen for _, show in SHOWS} == set(Screen)
    assert set(PLANS) == set(Screen)


def test_fifteen_millimetres_at_the_default_panel_is_61_pixels() -> None:
    # a 21.5-inch 1920×1080 panel: 2203 px of diagonal over 21.5 in
    assert math.isclose(DEFAULT_DPI, math.hypot(1920, 1080) / 21.5, rel_tol=0.01)
    assert min_target_px() == 61
    assert min_target_px(91.8) == 55  # a 24-inch panel needs fewer pixels for the same 15 mm


@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
@pytest.mark.parametrize(("name", "show"), SHOWS, ids=[name for name, _ in SHOWS])
def test_every_screen_places_its_targets_big_apart_and_on_the_panel(name: str, show: Show,
                                                                    size: tuple[int, int]) -> None:
    views = all_pages(show, size)
    smallest = min_target_px()
    offered = [t.touch for view in views for t in view.targets if t.touch is not None]
    assert sorted(offered, key=repr) == sorted(show.choices, key=repr)  # each offered Touch once, nothing else
    for view in views:
        boxes = [t.box for t in view.targets]
        for target in view.targets:
            assert inside(target.box, size), (target.label, target.box)
            assert target.box[2] >= smallest and target.box[3] >= smallest, (target.label, target.box)
            assert hit(view, centre(target.box)) == target
            assert target.label.zh  # every target says what it is, in Chinese first
        assert all(not overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        for block in view.blocks():
            assert inside(block.box, size)
        if view.number is not None:
            assert inside(view.number.box, size)
            assert all(not overlap(view.number.box, b) for b in boxes)
        if view.qr is not None:
            assert all(not overlap(view.qr, b) for b in boxes) and not overlap(view.qr, view.message.box)


@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
@pytest.mark.parametrize(("name", "show"), SHOWS, ids=[name for name, _ in SHOWS])
def test_words_colours_and_number_of_every_screen(name: str, show: Show, size: tuple[int, int]) -> None:
    view = kiosk_view(show, NAMES, size)
    plan = PLANS[show.screen]
    assert (view.header.zh, view.header.en) == (plan.title.zh, plan.title.en)
    words = show.words if show.words != NO_WORDS else plan.default
    assert (view.message.zh, view.message.en) == (words.zh, words.en)
    assert (view.header.background == ALERT_BG) == plan.alert
    assert (view.number is not None) == (plan.number_label != NO_WORDS)
    if view.number is not None:
        assert contrast(view.number.colour, view.number.background) >= 7
        assert view.number.text == (show.number or "—")
    assert view.qr_text == show.qr and (view.qr is not None) == bool(show.qr)
    for block in view.blocks():  # WCAG AAA: 7:1 for every text on its background
        assert contrast(block.colour, block.background) >= 7, block
        assert contrast(block.colour_en, block.background) >= 7, block
    for target in view.targets:
        for pressed in (False, True):
            background, ink, ink_en = dataclasses.replace(target, pressed=pressed).colours
            assert contrast(background, ink) >= 7 and contrast(background, ink_en) >= 7, target.label
    if show.holder_masked:
        assert view.holder is not None and "*" in view.holder.zh


def test_error_screens_say_what_to_do_in_both_languages() -> None:
    alerts = [show for _, show in SHOWS if PLANS[show.screen].alert]
    assert {s.screen for s in alerts} == {Screen.PRINTER_DOWN, Screen.REFUSED, Screen.UNREACHABLE,
                                          Screen.PRINT_FAILED}
    for show in alerts:
        view = kiosk_view(show, NAMES, (1080, 1920))
        assert view.message.zh and view.message.en
        assert show.choices, "an error screen always offers a way on"


def test_the_rating_levels_look_alike_and_none_is_chosen_for_the_citizen() -> None:
    show = next(s for _, s in SHOWS if s.screen is Screen.RATING)
    view = kiosk_view(show, NAMES, (1080, 1920))
    levels = [t for t in view.targets if t.touch is not None and t.touch.button is Button.LEVEL]
    assert [t.touch.value for t in levels if t.touch] == ["5", "4", "3", "2", "1"]
    assert {t.style for t in levels} == {Style.CHOICE} and not any(t.pressed for t in levels)
    assert len({(t.box[2], t.box[3]) for t in levels}) == 1
    assert [t.label.zh for t in levels] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]


def test_a_name_that_comes_in_clear_is_masked_on_screen() -> None:
    view = kiosk_view(Show(Screen.START, holder_masked="张三丰"), NAMES, (1080, 1920))
    assert view.holder is not None and "张三丰" not in view.holder.zh + view.holder.en
    assert masked_only("张三丰") == "张**" and masked_only("欧阳*") == "欧阳*" and masked_only("") == ""


def test_targets_are_named_from_the_hall() -> None:
    assert NAMES.label(Touch(Button.SERVICE, "B01")) == Words("不动产登记", "Real estate registration")
    assert NAMES.label(Touch(Button.CATEGORY, "shebao")) == Words("社保", "2 services")
    assert NAMES.label(Touch(Button.SERVICE, "ZZZ")).zh == "ZZZ"  # unknown code: shown, not dropped


def long_list(count: int, screen: Screen = Screen.GUIDE_SERVICES) -> Show:
    choices = (*(Touch(Button.SERVICE, f"S{n:02d}") for n in range(count)), Touch(Button.STATUS))
    return Show(screen, choices=choices)


@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
@pytest.mark.parametrize("screen", [Screen.GUIDE_SERVICES, Screen.START])  # START: no nav target of its own
def test_a_long_list_is_paged_not_squeezed(size: tuple[int, int], screen: Screen) -> None:
    show = long_list(60, screen)
    views = all_pages(show, size)
    assert len(views) > 1 and all(v.pages == len(views) for v in views)
    comfortable = min_target_px(mm=20)
    for view in views:
        grid = [t for t in view.targets if t.touch is not None]
        assert all(t.box[3] >= comfortable for t in grid)
        turns = [t.page_step for t in view.targets if t.touch is None]
        assert turns == ([-1] if view.page > 0 else []) + ([1] if view.page < view.pages - 1 else [])
        boxes = [t.box for t in view.targets]
        assert all(not overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert all(inside(b, size) for b in boxes)
    reached = [t.touch for v in views for t in v.targets if t.touch is not None]
    assert sorted(reached, key=repr) == sorted(show.choices, key=repr)


def test_a_denser_panel_gets_bigger_targets_in_pixels() -> None:
    show = long_list(60)
    dpi_4k = math.hypot(3840, 2160) / 24  # a 24-inch 4K panel: 184 px/in
    views = all_pages(show, (2160, 3840), dpi=dpi_4k)
    smallest = min_target_px(dpi_4k)
    assert smallest == 109
    assert all(t.box[2] >= smallest and t.box[3] >= smallest for v in views for t in v.targets)


def test_a_pressed_target_is_lit_and_only_that_one() -> None:
    show = next(s for _, s in SHOWS if s.screen is Screen.CODE_ENTRY)
    view = kiosk_view(show, NAMES, (1080, 1920), pressed=Touch(Button.DIGIT, "7"))
    assert [t.touch for t in view.targets if t.pressed] == [Touch(Button.DIGIT, "7")]
    assert hit(view, (-5, -5)) is None


def test_documents_are_labelled_from_the_show_not_from_the_flow_state() -> None:
    show = next(s for _, s in SHOWS if s.screen is Screen.DOCUMENTS and len(s.choices) > 1)
    view = kiosk_view(show, NAMES, (1080, 1920))
    labels = {t.touch.value: t.label for t in view.targets if t.touch is not None
              and t.touch.button is Button.DOCUMENT}
    assert labels["sb-1"] == Words("参保证明（2026年11月20日）", "Social insurance certificate, issued 2026-11-20")
    assert labels["bdc-1"].zh.startswith("不动产登记信息") and labels["bdc-1"].en.startswith("Certificate")
    done = next(t for t in view.targets if t.touch == Touch(Button.DONE))
    assert done.label == Words("结束", "Finish")  # NO_WORDS in labels: the UI's own label


def test_a_show_refuses_labels_that_do_not_match_its_choices() -> None:
    with pytest.raises(ValueError, match="1 labels for 2 choices"):
        Show(Screen.DOCUMENTS, choices=(Touch(Button.DOCUMENT, "a"), Touch(Button.DONE)), labels=(Words("a", "a"),))


@pytest.mark.parametrize("size", SIZES, ids=["portrait", "landscape"])
def test_the_nodes_notice_takes_the_header_band_in_red_over_any_screen(size: tuple[int, int]) -> None:
    offline = Words("暂时无法连接排队服务器，正在重试。", "The queue server cannot be reached; retrying.")
    show = Show(Screen.START, holder_masked="张*", choices=(Touch(Button.SERVICE, "A01"),))
    view = kiosk_view(show, NAMES, size, notice=offline)
    assert (view.header.zh, view.header.en) == (offline.zh, offline.en)
    assert view.header.background == ALERT_BG and view.header.box[2] > size[0] * 0.9
    assert view.holder is None  # the band is the notice's; the name comes back with the link
    assert contrast(view.header.colour, ALERT_BG) >= 7 and contrast(view.header.colour_en, ALERT_BG) >= 7
    plain = kiosk_view(show, NAMES, size)
    assert plain.header.zh == PLANS[Screen.START].title.zh and plain.holder is not None
    assert view.targets == plain.targets  # the screen itself is unchanged
