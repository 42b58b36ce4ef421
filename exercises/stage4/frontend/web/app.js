// The page's only script: send the roll, show the dice-roller's answer.
(function () {
  const form = document.getElementById("roll-form");
  const die = document.getElementById("die");
  const useAsync = document.getElementById("async");
  const times = document.getElementById("times");
  const summary = document.getElementById("summary");
  const status = document.getElementById("status");
  const body = document.getElementById("body");

  useAsync.addEventListener("change", function () {
    times.disabled = !useAsync.checked;
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const params = new URLSearchParams({ die: die.value });
    let path = "/roll";
    if (useAsync.checked) {
      path = "/roll-async";
      params.set("times", times.value);
    }
    summary.textContent = "Rolling…";
    status.textContent = "";
    body.textContent = "";
    try {
      const response = await fetch(path + "?" + params.toString());
      const text = await response.text();
      status.textContent = "Status " + response.status;
      body.textContent = text;
      summary.textContent = describe(response.status, text);
    } catch (err) {
      summary.textContent = "The frontend could not be reached: " + err;
    }
  });

  function describe(code, text) {
    let data;
    try { data = JSON.parse(text); } catch (e) { return "Unexpected answer."; }
    if (code !== 200) { return "Error: " + (data.error || "unknown error"); }
    if (Array.isArray(data.rolls)) {
      return "Rolled " + data.count + " dice, total " + data.total + ": [" + data.rolls.join(", ") + "]";
    }
    return "Rolled " + data.roll;
  }
})();
