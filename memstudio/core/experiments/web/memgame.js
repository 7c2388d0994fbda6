/*
 * memstudio memory game for the browser (built by `memstudio memgame export-web`).
 *
 * Plays one sequence of a memstudio design as the local runner does (ui/memgame/runner.py): each image for
 * image_ms, then a fixation cross for blank_ms; SPACE during those image_ms + blank_ms marks a repeat, only the
 * first press of a trial counts, its time is taken from the image's onset; Esc stops without saving. jsPsych
 * (vendored in jspsych/, MIT) runs the timeline; this file chooses the sequence, records the presses and
 * writes the same response CSV as the local runner (core/experiments/responses.py).
 *
 * Data never leave the page unless the participant downloads them or the lab configured a POST endpoint.
 */
(function () {
  "use strict";

  const CONFIG = window.MEMGAME;
  const root = document.documentElement;
  const params = new URLSearchParams(window.location.search);
  const TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; // no 0/O, 1/I: read aloud or typed by hand
  const RUNNING = ["instructions", "practice", "game"];

  function setState(state) {
    root.dataset.memgameState = state;
  }

  function randomInt(n) {
    // crypto, not Math.random: tokens must not repeat between participants.
    const buf = new Uint32Array(1);
    window.crypto.getRandomValues(buf);
    return buf[0] % n;
  }

  function randomToken(length) {
    let out = "";
    for (let i = 0; i < length; i++) out += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
    return out;
  }

  function shuffled(items) {
    const a = items.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  function showMessage(text) {
    const display = document.body;
    display.textContent = "";
    const p = document.createElement("p");
    p.className = "memgame-message";
    p.textContent = text;
    display.appendChild(p);
    return display;
  }

  function fail(text) {
    setState("error");
    showMessage(text);
  }

  // --- which sequence, which participant ---------------------------------------------------------------------
  function chooseSequence(token) {
    const ids = CONFIG.participants;
    const asked = params.get("participant");
    if (asked !== null) {
      if (!ids.includes(asked)) return { error: CONFIG.text.unknown_participant.replace("{id}", asked) };
      return { sequence: asked, participant: asked, assignment: "url" };
    }
    // Random with counterbalancing: each browser draws from a shuffled deck of all sequences and only
    // reshuffles once the deck is used up, so a shared lab computer plays every sequence before any twice.
    // The deck holds sequence ids only, never responses.
    const key = "memstudio-memgame:" + CONFIG.site_id + ":deck";
    let deck = [];
    try {
      deck = JSON.parse(window.localStorage.getItem(key) || "[]").filter((id) => ids.includes(id));
    } catch (err) {
      deck = [];
    }
    if (deck.length === 0) deck = shuffled(ids);
    const chosen = deck.shift();
    try {
      window.localStorage.setItem(key, JSON.stringify(deck));
    } catch (err) {
      // No storage (private mode): the draw is still uniform, only the per-browser balance is lost.
    }
    return { sequence: chosen, participant: chosen + "-" + token, assignment: "random" };
  }

  function timing() {
    // URL overrides are for pilots and tests; the session file records them.
    const out = { image_ms: CONFIG.image_ms, blank_ms: CONFIG.blank_ms, from_url: false };
    for (const name of ["image_ms", "blank_ms"]) {
      const raw = params.get(name);
      if (raw === null) continue;
      const value = Number(raw);
      const ok = Number.isInteger(value) && (name === "image_ms" ? value > 0 : value >= 0);
      if (!ok) return { error: CONFIG.text.bad_timing.replace("{name}", name).replace("{value}", raw) };
      out[name] = value;
      out.from_url = true;
    }
    return out;
  }

  function loadSequence(id) {
    // A script, not fetch(): browsers refuse fetch() from file:// pages but load scripts.
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "sequences/" + encodeURIComponent(id) + ".js";
      script.onload = () => {
        const seq = (window.MEMGAME_SEQUENCES || {})[id];
        if (seq) resolve(seq);
        else reject(new Error("sequence " + id + " is empty"));
      };
      script.onerror = () => reject(new Error("sequence " + id + " cannot be loaded"));
      document.head.appendChild(script);
    });
  }

  function imageSrc(id) {
    return id.split("/").map(encodeURIComponent).join("/");
  }

  // --- the response CSV, as core/experiments/responses.py writes it ---------------------------------------------
  function csvField(value) {
    const s = String(value);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function formatMs(value) {
    // Python's _fmt: whole numbers bare, otherwise 3 decimals without trailing zeros.
    if (value === null) return "";
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
  }

  function outcomeOf(kind, response) {
    if (CONFIG.repeat_kinds.includes(kind)) return response ? "hit" : "miss";
    return response ? "false_alarm" : "correct_rejection";
  }

  function responsesCsv(participant, trials, rts) {
    const lines = [CONFIG.columns.join(",")];
    trials.forEach((t, i) => {
      const rt = rts[i];
      const response = rt !== null;
      const row = {
        participant: participant,
        position: t.position,
        image: t.image,
        kind: t.kind,
        seed_id: t.seed_id,
        version: t.version,
        alpha: t.alpha,
        delay: t.delay,
        response: response ? "1" : "0",
        rt_ms: formatMs(rt),
        outcome: outcomeOf(t.kind, response),
      };
      lines.push(CONFIG.columns.map((c) => csvField(row[c])).join(","));
    });
    return lines.join("\n") + "\n";
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type: type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // --- the timeline ------------------------------------------------------------------------------------------------
  function imageTrial(src, css, onLoad, onFinish, t) {
    return {
      type: jsPsychImageKeyboardResponse,
      stimulus: src,
      choices: [" "],
      stimulus_duration: t.image_ms,
      trial_duration: t.image_ms + t.blank_ms,
      response_ends_trial: false,
      prompt: '<div class="memgame-fixation" aria-hidden="true"></div>',
      css_classes: ["memgame-trial"].concat(css),
      on_load: onLoad,
      on_finish: (data) => onFinish(typeof data.rt === "number" ? data.rt : null),
    };
  }

  function feedbackClass(isRepeat) {
    return isRepeat ? "memgame-feedback-hit" : "memgame-feedback-mistake";
  }

  async function main() {
    if (!CONFIG) return fail("game.js is missing: rebuild the site with memstudio memgame export-web.");
    const token = randomToken(8);
    const choice = chooseSequence(token);
    if (choice.error) return fail(choice.error);
    const t = timing();
    if (t.error) return fail(t.error);
    let seq;
    try {
      seq = await loadSequence(choice.sequence);
    } catch (err) {
      return fail(String(err.message || err));
    }
    root.dataset.memgameSequence = choice.sequence;
    root.style.setProperty("--memgame-feedback-ms", CONFIG.feedback_ms + "ms");
    const trials = seq.trials;
    const rts = trials.map(() => null);
    const onsets = trials.map(() => null);
    const practiceRts = CONFIG.practice.map(() => null);
    const started = new Date();
    let aborted = false;
    let saved = false;
    let clock0 = null;

    const jsPsych = initJsPsych({ display_element: document.body });

    const timeline = [];
    timeline.push({
      type: jsPsychPreload,
      images: trials.map((x) => imageSrc(x.image)).concat(CONFIG.practice.map((x) => imageSrc(x.image))),
      message: "<p>" + CONFIG.text.loading_html + "</p>",
      // A missing image stops here, before any trial, with the files named; nothing can be saved.
      error_message: "<p>" + CONFIG.text.images_failed_html + "</p>",
      show_detailed_errors: true,
      on_error: () => setState("error"),
    });
    if (CONFIG.fullscreen) {
      timeline.push({
        type: jsPsychFullscreen,
        fullscreen_mode: true,
        message: "<p>" + CONFIG.text.fullscreen_html + "</p>",
        button_label: CONFIG.text.fullscreen_button,
      });
    }
    timeline.push({
      type: jsPsychHtmlKeyboardResponse,
      stimulus: '<div class="memgame-text">' + CONFIG.text.instructions_html + "</div>",
      choices: [" "],
      on_start: () => setState("instructions"),
    });
    CONFIG.practice.forEach((p, i) => {
      const isRepeat = CONFIG.repeat_kinds.includes(p.kind);
      timeline.push(
        imageTrial(
          imageSrc(p.image),
          [feedbackClass(isRepeat)],
          () => {
            setState("practice");
            root.dataset.memgameTrial = String(i);
          },
          (rt) => {
            practiceRts[i] = rt;
          },
          t
        )
      );
    });
    if (CONFIG.practice.length > 0) {
      timeline.push({
        type: jsPsychHtmlKeyboardResponse,
        stimulus: '<div class="memgame-text">' + CONFIG.text.practice_done_html + "</div>",
        choices: [" "],
        on_start: () => setState("instructions"),
      });
    }
    trials.forEach((trial, i) => {
      const css = CONFIG.feedback ? [feedbackClass(CONFIG.repeat_kinds.includes(trial.kind))] : [];
      timeline.push(
        imageTrial(
          imageSrc(trial.image),
          css,
          () => {
            const now = performance.now();
            if (clock0 === null) clock0 = now;
            onsets[i] = Math.round((now - clock0) * 10) / 10;
            setState("game");
            root.dataset.memgameTrial = String(i);
          },
          (rt) => {
            rts[i] = rt;
          },
          t
        )
      );
    });

    document.addEventListener(
      "keydown",
      (event) => {
        if (event.key === "Escape" && RUNNING.includes(root.dataset.memgameState)) {
          aborted = true;
          jsPsych.abortExperiment("");
        }
      },
      true
    );
    window.addEventListener("beforeunload", (event) => {
      if (root.dataset.memgameState === "done" && !saved) {
        event.preventDefault();
        event.returnValue = "";
      }
    });

    await jsPsych.run(timeline);
    if (aborted) {
      setState("aborted");
      showMessage(CONFIG.text.aborted);
      return;
    }

    const code = CONFIG.completion_code || token;
    const csv = responsesCsv(choice.participant, trials, rts);
    const practiceScore = { trials: CONFIG.practice.length, hits: 0, misses: 0, false_alarms: 0 };
    CONFIG.practice.forEach((p, i) => {
      const o = outcomeOf(p.kind, practiceRts[i] !== null);
      if (o === "hit") practiceScore.hits++;
      else if (o === "miss") practiceScore.misses++;
      else if (o === "false_alarm") practiceScore.false_alarms++;
    });
    const session = {
      format: "memstudio-memgame-web-session",
      format_version: 1,
      participant: choice.participant,
      sequence: choice.sequence,
      assignment: choice.assignment,
      session_token: token,
      completion_code: code,
      image_ms: t.image_ms,
      blank_ms: t.blank_ms,
      timing_from_url: t.from_url,
      feedback: CONFIG.feedback,
      practice: practiceScore,
      onsets_ms: onsets,
      started_utc: started.toISOString(),
      finished_utc: new Date().toISOString(),
      fullscreen: Boolean(document.fullscreenElement),
      screen: { width: window.screen.width, height: window.screen.height, pixel_ratio: window.devicePixelRatio },
      user_agent: navigator.userAgent,
      site: CONFIG.site,
    };
    if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => null);
    finishScreen(choice.participant, code, csv, session, () => {
      saved = true;
    });
  }

  function finishScreen(participant, code, csv, session, onSaved) {
    setState("done");
    const display = showMessage(CONFIG.text.thanks);
    const codeLine = document.createElement("p");
    codeLine.className = "memgame-code";
    codeLine.textContent = CONFIG.text.completion_code + " ";
    const strong = document.createElement("strong");
    strong.id = "memgame-completion-code";
    strong.textContent = code;
    codeLine.appendChild(strong);
    display.appendChild(codeLine);
    const stem = participant.replace(/[^A-Za-z0-9_.-]/g, "_");
    const buttons = document.createElement("p");
    const csvButton = document.createElement("button");
    csvButton.id = "memgame-download";
    csvButton.className = "jspsych-btn";
    csvButton.textContent = CONFIG.text.download;
    csvButton.addEventListener("click", () => {
      download(stem + ".csv", csv, "text/csv");
      onSaved();
    });
    const sessionButton = document.createElement("button");
    sessionButton.id = "memgame-download-session";
    sessionButton.className = "jspsych-btn";
    sessionButton.textContent = CONFIG.text.download_session;
    sessionButton.addEventListener("click", () =>
      download(stem + ".session.json", JSON.stringify(session, null, 1) + "\n", "application/json")
    );
    buttons.appendChild(csvButton);
    buttons.appendChild(document.createTextNode(" "));
    buttons.appendChild(sessionButton);
    display.appendChild(buttons);
    if (CONFIG.post_url) {
      const status = document.createElement("p");
      status.id = "memgame-post-status";
      status.textContent = CONFIG.text.sending;
      display.appendChild(status);
      fetch(CONFIG.post_url, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        referrerPolicy: "no-referrer",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ format: "memstudio-memgame-web-upload", participant: participant, csv: csv, session: session }),
      })
        .then((response) => {
          if (!response.ok) throw new Error("HTTP " + response.status);
          status.textContent = CONFIG.text.sent;
          root.dataset.memgamePost = "sent";
          onSaved();
        })
        .catch((err) => {
          status.textContent = CONFIG.text.send_failed + " (" + String(err.message || err) + ")";
          root.dataset.memgamePost = "failed";
        });
    }
  }

  main();
})();
