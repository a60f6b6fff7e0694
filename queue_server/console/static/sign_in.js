// Sign-in: either form posts JSON to /manage/sign-in; the server sets the session cookie (HttpOnly) and
// answers where to go. Refusals are shown in the server's own words (wrong PIN, locked for N seconds).
"use strict";

(() => {
  async function signIn(body) {
    try {
      const answer = await Console.api("POST", "/manage/sign-in", body);
      window.location.assign(answer.next);
    } catch (err) {
      const wait = err.details && err.details.retry_after_s;
      Console.say("sign-in-message", err.message + (wait ? `（${wait} 秒后再试）` : ""), true);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("pin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      signIn({ staff: document.getElementById("staff").value, pin: document.getElementById("pin").value });
    });
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      signIn({ token: document.getElementById("token").value });
    });
  });
})();
