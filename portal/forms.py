"""The portal's forms. They check the shape of what was typed, in the words a guest understands; the
services check it again and decide (a form is never the only guard)."""
from __future__ import annotations

import secrets

from django import forms

from bookings.models import AddonCode
from operations.services import DESCRIPTION_MAX, ISSUE_CATEGORIES, category_label
from reviews.services import COMMENT_MAX

URGENCIES = [("not_urgent", "Not urgent"), ("urgent", "Urgent"), ("emergency", "Emergency")]
CATEGORIES = [(code, category_label(code)) for code in ISSUE_CATEGORIES]
STARS = [(n, str(n)) for n in range(1, 6)]
STARS_MESSAGE = "Ratings go from 1 to 5 stars."
SUB_RATINGS = [
    ("cleanliness_rating", "Cleanliness"),
    ("communication_rating", "Communication"),
    ("location_rating", "Location"),
    ("value_rating", "Value"),
]


def new_submission_id() -> str:
    return secrets.token_urlsafe(9)


def _description(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 4, "maxlength": DESCRIPTION_MAX}),
        error_messages={
            "required": "Describe the problem in a few words.",
            "max_length": f"Keep the description under {DESCRIPTION_MAX} characters.",
        },
    )


class _Submitted(forms.Form):
    prefix_id = "f"  # ids are unique on the page, which holds several forms
    submission = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.prefix_id}_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission", new_submission_id())


class IssueForm(_Submitted):
    prefix_id = "issue"
    category = forms.ChoiceField(
        choices=CATEGORIES, label="What is the problem?",
        error_messages={"required": "Choose what the problem is.",
                        "invalid_choice": "Choose one of: " + ", ".join(label for _, label in CATEGORIES) + "."},
    )
    urgency = forms.ChoiceField(
        choices=URGENCIES, label="How urgent is it?", initial="urgent",
        error_messages={"required": "Choose how urgent it is.",
                        "invalid_choice": "Choose how urgent it is: not urgent, urgent or emergency."},
    )
    description = _description("Describe it (up to 500 characters)")


class DamageForm(_Submitted):
    prefix_id = "damage"
    description = _description("What was damaged? (up to 500 characters)")


class AddonForm(forms.Form):
    code = forms.ChoiceField(
        choices=[(c, AddonCode(c).label) for c in (AddonCode.LATE_CHECKOUT, AddonCode.EXTRA_CLEANING, AddonCode.EARLY_CHECKIN)],
        error_messages={"required": "Choose an add-on.", "invalid_choice": "This add-on is not offered."},
    )


def _stars(label: str, *, required: bool) -> forms.TypedChoiceField:
    # The overall rating is drawn as five large radio buttons in the template; the optional ones are selects,
    # which a guest can set back to "no rating" without any script.
    return forms.TypedChoiceField(
        label=label, choices=STARS if required else [("", "No rating")] + STARS, coerce=int, required=required,
        empty_value=None, error_messages={"required": "Choose a rating from 1 to 5 stars.", "invalid_choice": STARS_MESSAGE},
    )


class ReviewForm(_Submitted):
    prefix_id = "review"
    overall_rating = _stars("Your overall rating", required=True)
    cleanliness_rating = _stars("Cleanliness", required=False)
    communication_rating = _stars("Communication", required=False)
    location_rating = _stars("Location", required=False)
    value_rating = _stars("Value", required=False)
    comment = forms.CharField(
        label="Anything you would like to tell us? (optional)", required=False, max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": COMMENT_MAX}),
        error_messages={"max_length": f"Keep the comment under {COMMENT_MAX} characters."},
    )

    def sub_rating_fields(self) -> list:
        return [self[name] for name, _ in SUB_RATINGS]

    def ratings(self) -> dict:
        fields = ["overall_rating"] + [name for name, _ in SUB_RATINGS]
        return {name: self.cleaned_data.get(name) for name in fields}


# --- contact completion (intake: a calendar booking arrives without the guest's phone or email) ---------------

MAX_GUESTS = 50


def mobile_number(raw: str) -> str:
    """E.164 of a mobile number, India by default; a landline cannot get WhatsApp or SMS, so it is refused."""
    from django.core.exceptions import ValidationError

    from guests.phones import display_phone, is_mobile, normalize_phone

    try:
        phone = normalize_phone(raw)
    except ValidationError as exc:
        raise forms.ValidationError(exc.messages[0].replace("phone number", "mobile number")) from None
    if not is_mobile(phone):
        raise forms.ValidationError(f"{display_phone(phone)} is a landline. Enter a mobile number, so that "
                                    "WhatsApp and SMS messages reach you.")
    return phone


class ConsentForm(forms.Form):
    """The guest's choices, each purpose on its own (DPDP Act 2023); offers and personalization unticked."""

    whatsapp = forms.BooleanField(required=False, initial=True, label="Booking messages on WhatsApp")
    sms = forms.BooleanField(required=False, initial=True, label="Booking messages by SMS (when WhatsApp does not reach you)")
    email_messages = forms.BooleanField(required=False, initial=True, label="Booking messages and receipts by email")
    marketing = forms.BooleanField(required=False, initial=False, label="Offers and news from your host")
    personalization = forms.BooleanField(required=False, initial=False,
                                         label="Remember my preferences to personalise my next stays")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "c_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def choices(self):
        from intake.contact import Choices

        data = self.cleaned_data
        return Choices(whatsapp=data["whatsapp"], sms=data["sms"], email=data["email_messages"],
                       marketing=data["marketing"], personalization=data["personalization"])


class ContactForm(ConsentForm):
    name = forms.CharField(max_length=200, label="Your name",
                           error_messages={"required": "Enter your name as on your ID.",
                                           "max_length": "Keep your name under 200 characters."})
    phone = forms.CharField(max_length=40, label="Mobile number",
                            error_messages={"required": "Enter your mobile number, e.g. 98765 01234."})
    email = forms.EmailField(required=False, max_length=254, label="Email (optional)",
                             error_messages={"invalid": "Enter an email address like name@example.com, or leave it empty."})
    guests = forms.IntegerField(min_value=1, max_value=MAX_GUESTS, initial=1, label="Number of guests",
                                error_messages={"required": "Enter how many guests are staying.",
                                                "invalid": "Enter the number of guests as a number, e.g. 2.",
                                                "min_value": "At least 1 guest.",
                                                "max_value": f"At most {MAX_GUESTS} guests."})
    arrival_time = forms.TimeField(required=False, label="Expected arrival time (optional)",
                                   widget=forms.TimeInput(attrs={"type": "time"}),
                                   error_messages={"invalid": "Enter a time like 15:30, or leave it empty."})

    field_order = ["name", "phone", "email", "guests", "arrival_time"]

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Enter your name as on your ID.")
        return name

    def clean_phone(self) -> str:
        return mobile_number(self.cleaned_data["phone"])

    def contact(self):
        from intake.contact import Contact

        data = self.cleaned_data
        return Contact(name=data["name"], phone=data["phone"], email=(data["email"] or "").strip().lower(),
                       guests=data["guests"], arrival_time=data["arrival_time"])
