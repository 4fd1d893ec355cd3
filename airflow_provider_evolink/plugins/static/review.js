// Reviews on the "EvoLink videos" page (loaded before gallery.js, whose el/card/play it calls at run time):
// each card's review state, and the review task instance's tab, which plays the video that task asks about and
// links to Airflow's own "Required actions" form. Strings from the server only ever go through textContent.
"use strict";

const REVIEW_WORDS = { waiting: "Waiting for review", approved: "Approved", rejected: "Rejected", responded: "Answered" };

function reviewText(review) {
  let text = REVIEW_WORDS[review.state] || review.state;
  if (review.state === "responded") text += `: ${review.chosen_options.join(", ")}`;
  if (review.by) text += ` by ${review.by}`;
  if (review.at) text += ` · ${new Date(review.at).toLocaleString()}`;
  return text;
}

function openInUi(event) {
  // The UI frames this page in a sandbox without top navigation: a framed link moves the UI's own router instead
  // (same origin), as if the user had clicked a link of the UI. Not framed, the link navigates as usual.
  if (window.parent === window) return;
  try {
    const target = new URL(event.currentTarget.href);
    window.parent.history.pushState(null, "", target.pathname + target.search);
    window.parent.dispatchEvent(new PopStateEvent("popstate"));
    event.preventDefault();
  } catch (error) { /* not the UI's origin: the link's own navigation */ }
}

function reviewBadge(review) {
  if (!review) return null;
  const badge = el("p", { className: `review-badge review-${review.state}`, textContent: reviewText(review) });
  badge.dataset.state = review.state;
  if (review.comment) badge.append(el("q", { className: "comment", textContent: review.comment }));
  return badge;
}

async function showReview(taskInstance) {
  const params = new URLSearchParams(taskInstance);
  const response = await fetch(`api/review?${params}`, { credentials: "same-origin" });
  if (!response.ok) return false;  // 404: this task instance is no review task
  const data = await response.json();
  $("title").textContent = "Review this EvoLink video";
  $("review-state").replaceChildren(reviewBadge(data.review));
  const respond = $("review-respond");
  respond.href = `${uiRoot}${data.required_actions}`;
  respond.hidden = data.review.state !== "waiting";
  respond.onclick = openInUi;
  $("review").hidden = false;
  $("cards").replaceChildren(...data.videos.map(card));
  $("status").hidden = data.videos.length > 0;
  $("status").textContent = data.videos.length ? "" : "The reviewed task stored no video that can be shown.";
  if (data.videos.length) play(data.videos[0]);
  return true;
}
