"""``servicehall screen kiosk``: the kiosk touch UI's start screen for one kiosk node of a hall file, as a PNG
(``--snapshot``) or in a window, so a technician can check the layout and the names on a panel size without
running the node (the node program runs the flows; this shows the kiosk's home screen, kiosk/flows/home.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

log = logging.getLogger(__name__)


def run_preview(args: argparse.Namespace) -> int:
    """Render the start screen; 1 with a message on a wrong argument."""
    from config.loader import ConfigError, load_hall
    from config.model import NodeRole
    from screens.app import parse_size

    try:
        hall = load_hall(args.config)
        size = parse_size(args.size)
    except (ConfigError, ValueError) as err:
        print(err, file=sys.stderr)
        return 1
    node = next((n for n in hall.nodes if n.name == args.node), None)
    kiosks = [n.name for n in hall.nodes if n.role is NodeRole.KIOSK]
    if node is None or node.role is not NodeRole.KIOSK:
        print(f"{args.config}: no kiosk node named {args.node!r}; kiosk nodes: {', '.join(kiosks) or 'none'}",
              file=sys.stderr)
        return 1
    if not 30 <= args.dpi <= 600:
        print(f"--dpi {args.dpi} is out of range: 30 to 600 pixels per inch", file=sys.stderr)
        return 1
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if args.snapshot:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from kiosk.flows import home
    from kiosk.flows.context import KioskContext, certificates_offered, featured_services
    from kiosk.flows.effects import Show
    from screens.kiosk_models import Names
    from screens.kiosk_ui import KioskScreen
    from screens.snapshot import save

    ctx = KioskContext(hall, node.name, b"preview", "preview", featured=featured_services(hall),
                       certificates=certificates_offered(hall, node))
    _, effects = home.initial(ctx)
    start = next(e for e in effects if isinstance(e, Show))
    names = Names.from_hall(hall)
    if args.snapshot:
        screen = KioskScreen(pygame.Surface(size), names, dpi=args.dpi)
        screen.show(start)
        screen.draw()
        print(f"start screen of {node.name} ({size[0]}x{size[1]}) written to {save(screen.surface, args.snapshot)}")
        return 0
    pygame.display.init()
    try:
        screen = KioskScreen(pygame.display.set_mode(size), names, dpi=args.dpi)
        screen.show(start)
        pygame.display.set_caption(f"servicehall kiosk {node.name} (preview: Esc closes)")
        while not any(e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key == pygame.K_ESCAPE)
                      for e in pygame.event.get([pygame.QUIT, pygame.KEYDOWN])):
            for touch in screen.touches():
                log.info("tapped %s %s (a preview: nothing is asked of the server)", touch.button, touch.value)
            screen.pump()
            time.sleep(0.03)
    finally:
        pygame.display.quit()
    return 0
