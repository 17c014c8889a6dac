// The Billing tab's card form: Stripe.js collects the card in its own frame, cmsync asks for a
// SetupIntent (card/setup/), Stripe.js confirms it, and the form posts only the payment method's
// id. A file of its own, not inline: the Content-Security-Policy allows no inline script.
(function () {
  const form = document.getElementById("card-form");
  const status = document.getElementById("card-status");
  if (typeof Stripe === "undefined") { status.textContent = "Stripe.js could not be loaded; try again later."; return; }
  const stripe = Stripe(form.dataset.key);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    status.textContent = "Saving…";
    try {
      const response = await fetch(form.dataset.setupUrl, {method: "POST", headers: {"X-CSRFToken": form.csrfmiddlewaretoken.value}});
      const data = await response.json();
      if (data.error) { status.textContent = data.error; return; }
      const result = await stripe.confirmCardSetup(data.client_secret, {payment_method: {card: card}});
      if (result.error) { status.textContent = (result.error && result.error.message) || "The card was declined."; return; }
      form.payment_method.value = result.setupIntent.payment_method;
      form.submit();
    } catch (error) {
      status.textContent = "Stripe could not be reached. Nothing was changed; try again in a minute.";
    }
  });
})();
