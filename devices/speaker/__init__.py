"""The hall speaker (语音叫号): calls built from clip tokens, queued, said whole and in order.

``espeak://`` plays offline espeak-ng (or recorded) clips through pygame.mixer; ``silent://`` records
what would have been said. Import the drivers from their modules (``devices.speaker.announcer``,
``devices.speaker.silent``) so that importing this package never loads pygame.
"""

from devices.speaker.tts import Call, announcement_tokens, number_tokens, spoken_text, ticket_tokens

__all__ = ["Call", "announcement_tokens", "number_tokens", "spoken_text", "ticket_tokens"]
