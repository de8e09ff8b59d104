// A bar per label: the probability as a bar and as a number, the winner marked.

export const percent = (p) => `${(100 * p).toFixed(1)}%`;

/** Fill `list` (a <ul>) with one row per label, in the model's label order. */
export function drawBars(list, probabilities, winner) {
  list.replaceChildren(...Object.entries(probabilities).map(([label, p]) => {
    const row = document.createElement("li");
    row.dataset.label = label;
    row.dataset.probability = String(p);
    row.classList.toggle("winner", label === winner);
    const name = document.createElement("span");
    name.className = "bar-label";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "bar-track";
    track.setAttribute("aria-hidden", "true"); // the number beside it says the same
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = percent(p);
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = percent(p);
    row.append(name, track, value);
    return row;
  }));
}
