"""Contributions: a signed-in user proposes a provider, an offer, a price change or a rename; moderators decide.

States: pending → needs_info (a moderator asks a question) → pending again when the author answers;
pending or needs_info → approved or rejected (by a moderator), or withdrawn (by the author). A
decided or withdrawn contribution never moves again. Every transition writes its audit row in the
caller's transaction.

One approval service (`approve`), for one contribution or many: each is applied through
`models.offer_edits`, the same service as the admin area's, in a savepoint of its own, so a bulk
approval applies every one it can and reports the others. A price change opens new periods and
closes the previous ones of that same offer and kVA only; a rename changes the name, never a price.

What a contribution proposes is in `payload` (checked on submission, checked again on approval):
- new_provider: {"name", "website"}
- new_offer: {"provider_id", "name", "option", "prices": [PriceEntry.as_json()]} with `valid_from`
- price_change: {"prices": [...]} with `offer_id` and `valid_from`
- rename_offer: {"name"} with `offer_id`
Every kind carries the price sheet's link (`price_sheet_url`), required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models import offer_edits
from models.audit import record
from models.base import Base, Timestamped
from models.offer_edits import OfferEditRefused, PriceEntry
from models.offers import OPTION_RULES, Offer, OfferPrice, Provider

KINDS = ("new_provider", "new_offer", "price_change", "rename_offer")
KIND_LABELS = {"new_provider": "Nouveau fournisseur", "new_offer": "Nouvelle offre",
               "price_change": "Changement de prix", "rename_offer": "Changement de nom d'une offre",
               "legacy": "Ancien format"}
LEGACY = "legacy"  # rows from before this model (no release wrote any): they can only be rejected
PENDING, NEEDS_INFO, APPROVED, REJECTED, WITHDRAWN = "pending", "needs_info", "approved", "rejected", "withdrawn"
STATUSES = (PENDING, NEEDS_INFO, APPROVED, REJECTED, WITHDRAWN)
OPEN = (PENDING, NEEDS_INFO)
STATUS_LABELS = {PENDING: "En attente de modération", NEEDS_INFO: "Question du modérateur",
                 APPROVED: "Approuvée", REJECTED: "Refusée", WITHDRAWN: "Retirée"}
# The moves each actor may make: (from, to).
TRANSITIONS = {
    "ask": {PENDING: NEEDS_INFO, NEEDS_INFO: NEEDS_INFO},  # a moderator's question
    "answer": {NEEDS_INFO: PENDING, PENDING: PENDING},  # the author's reply
    "approve": {PENDING: APPROVED, NEEDS_INFO: APPROVED},
    "reject": {PENDING: REJECTED, NEEDS_INFO: REJECTED},
    "withdraw": {PENDING: WITHDRAWN, NEEDS_INFO: WITHDRAWN},
}
MAX_MESSAGE = 2000
MAX_URL = 500
MAX_OPEN_PER_USER = 50
STATUS_CHECK = "status IN ('pending', 'needs_info', 'approved', 'rejected', 'withdrawn')"
KIND_CHECK = "kind IN ('new_provider', 'new_offer', 'price_change', 'rename_offer', 'legacy')"


class Contribution(Timestamped, Base):
    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint(STATUS_CHECK, name="status_known"),
        CheckConstraint(KIND_CHECK, name="kind_known"),
        CheckConstraint("(status IN ('approved', 'rejected')) = (reviewed_at IS NOT NULL)",
                        name="decided_when_reviewed"),
        Index("ix_contributions_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=LEGACY, server_default=LEGACY)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, server_default=PENDING)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    price_sheet_url: Mapped[str] = mapped_column(String(MAX_URL), default="", server_default="")
    payload: Mapped[dict] = mapped_column(JSONB)
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")  # the author's note
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    messages: Mapped[list[ContributionMessage]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ContributionMessage.id")
    offer: Mapped[Offer | None] = relationship()

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def prices(self) -> list[PriceEntry]:
        return [PriceEntry.from_json(item) for item in (self.payload or {}).get("prices") or []]


class ContributionMessage(Timestamped, Base):
    """A moderator's question or decision note, or the author's answer."""

    __tablename__ = "contribution_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_moderator: Mapped[bool]
    body: Mapped[str] = mapped_column(Text)


class ContributionRefused(OfferEditRefused):
    """A transition or a proposal the rules refuse (French message)."""


def target(contribution_id: int) -> str:
    return f"contribution:{contribution_id}"


# -- proposing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    kind: str
    price_sheet_url: str
    comment: str = ""
    name: str = ""  # provider name, offer name, new name
    website: str = ""
    provider_id: int | None = None
    option: str = ""
    offer_id: int | None = None
    valid_from: date | None = None
    prices: list[PriceEntry] = field(default_factory=list)


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url) if len(url) <= MAX_URL else None
    if not url:
        raise ContributionRefused("Le lien vers la grille tarifaire est obligatoire.")
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        raise ContributionRefused(f"Le lien vers la grille tarifaire doit être une adresse http(s) de {MAX_URL} "
                                  f"caractères au plus.")
    return url


def _check_message(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ContributionRefused("Le message est vide.")
    if len(body) > MAX_MESSAGE:
        raise ContributionRefused(f"Le message fait {MAX_MESSAGE} caractères au plus.")
    return body


def _payload(session: Session, p: Proposal) -> tuple[dict, int | None, date | None]:
    """Check a proposal against the catalogue as it stands; the payload to store, its offer and first day."""
    if p.kind == "new_provider":
        name = offer_edits.check_name(p.name, "Le nom du fournisseur")
        if session.scalar(select(Provider.id).where(Provider.name.ilike(name))) is not None:
            raise ContributionRefused(f"Le fournisseur « {name} » existe déjà.")
        website = (p.website or "").strip()
        if website:
            website = check_url(website)
        return {"name": name, "website": website}, None, None
    if p.kind == "new_offer":
        if p.provider_id is None or session.get(Provider, p.provider_id) is None:
            raise ContributionRefused("Choisissez le fournisseur de l'offre.")
        if p.option not in OPTION_RULES:
            raise ContributionRefused("Choisissez le type d'offre.")
        if p.valid_from is None:
            raise ContributionRefused("Indiquez la date d'entrée en vigueur des prix.")
        name = offer_edits.check_name(p.name, "Le nom de l'offre")
        prices = offer_edits.check_entries(p.option, p.prices)
        return ({"provider_id": p.provider_id, "name": name, "option": p.option,
                 "prices": [e.as_json() for e in prices]}, None, offer_edits.check_day(p.valid_from))
    offer = None if p.offer_id is None else session.scalar(
        select(Offer).where(Offer.id == p.offer_id, Offer.owner_id.is_(None)))
    if offer is None:
        raise ContributionRefused("Choisissez l'offre concernée.")
    if p.kind == "price_change":
        if p.valid_from is None:
            raise ContributionRefused("Indiquez la date d'entrée en vigueur des nouveaux prix.")
        prices = offer_edits.check_entries(offer.option, p.prices)
        return {"prices": [e.as_json() for e in prices]}, offer.id, offer_edits.check_day(p.valid_from)
    if p.kind == "rename_offer":
        name = offer_edits.check_name(p.name, "Le nouveau nom")
        if name == offer.name:
            raise ContributionRefused("C'est déjà le nom de l'offre.")
        return {"name": name}, offer.id, None
    raise ContributionRefused("Type de contribution inconnu.")


def submit(session: Session, author_id: int, proposal: Proposal, *, ip: str | None) -> Contribution:
    """Store a proposal as pending (audited); ContributionRefused, in French, when it does not hold."""
    url = check_url(proposal.price_sheet_url)
    comment = (proposal.comment or "").strip()
    if len(comment) > MAX_MESSAGE:
        raise ContributionRefused(f"Le commentaire fait {MAX_MESSAGE} caractères au plus.")
    payload, offer_id, valid_from = _payload(session, proposal)
    count = session.scalar(select(func.count()).select_from(Contribution).where(
        Contribution.user_id == author_id, Contribution.status.in_(OPEN)))
    if count >= MAX_OPEN_PER_USER:
        raise ContributionRefused(f"Vous avez déjà {MAX_OPEN_PER_USER} contributions en attente.")
    row = Contribution(user_id=author_id, kind=proposal.kind, status=PENDING, offer_id=offer_id,
                       valid_from=valid_from, price_sheet_url=url, payload=payload, comment=comment)
    session.add(row)
    session.flush()
    record(session, "contribution.submitted", actor_id=author_id, target=target(row.id), ip=ip,
           after={"status": PENDING, "kind": row.kind})
    return row


# -- moving between states ---------------------------------------------------------------------------


def _locked(session: Session, contribution_id: int) -> Contribution:
    row = session.scalar(select(Contribution).where(Contribution.id == contribution_id).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        raise ContributionRefused("Contribution introuvable.")
    return row


def _move(session: Session, row: Contribution, move: str, *, actor_id: int | None, ip: str | None,
          action: str, now: datetime | None = None, **details) -> None:
    to = TRANSITIONS[move].get(row.status)
    if to is None:
        raise ContributionRefused(f"Cette contribution est « {row.status_label.lower()} » : plus rien à y faire.")
    before = row.status
    row.status = to
    if to in (APPROVED, REJECTED):
        row.reviewed_by_id, row.reviewed_at = actor_id, now or datetime.now().astimezone()
    session.flush()
    record(session, action, actor_id=actor_id, target=target(row.id), ip=ip, before={"status": before},
           after={"status": to}, **details)


def _message(session: Session, row: Contribution, author_id: int | None, body: str, from_moderator: bool) -> None:
    session.add(ContributionMessage(contribution_id=row.id, author_id=author_id, body=body,
                                    from_moderator=from_moderator))
    session.flush()


def of_author(session: Session, author_id: int, contribution_id: int) -> Contribution | None:
    """One of the author's contributions (another account's is None, like one that does not exist)."""
    return session.scalar(select(Contribution).where(Contribution.id == contribution_id,
                                                     Contribution.user_id == author_id))


def ask(session: Session, contribution_id: int, question: str, *, actor_id: int, ip: str | None) -> Contribution:
    """A moderator's question: the contribution waits for its author (needs_info)."""
    body = _check_message(question)
    row = _locked(session, contribution_id)
    _move(session, row, "ask", actor_id=actor_id, ip=ip, action="admin.contribution.info_requested")
    _message(session, row, actor_id, body, True)
    return row


def answer(session: Session, author_id: int, contribution_id: int, body: str, *, ip: str | None) -> Contribution:
    """The author's reply: back to the moderators (pending)."""
    body = _check_message(body)
    if of_author(session, author_id, contribution_id) is None:
        raise ContributionRefused("Contribution introuvable.")
    row = _locked(session, contribution_id)
    _move(session, row, "answer", actor_id=author_id, ip=ip, action="contribution.answered")
    _message(session, row, author_id, body, False)
    return row


def withdraw(session: Session, author_id: int, contribution_id: int, *, ip: str | None) -> Contribution:
    if of_author(session, author_id, contribution_id) is None:
        raise ContributionRefused("Contribution introuvable.")
    row = _locked(session, contribution_id)
    _move(session, row, "withdraw", actor_id=author_id, ip=ip, action="contribution.withdrawn")
    return row


def reject(session: Session, contribution_id: int, reason: str, *, actor_id: int, ip: str | None,
           now: datetime | None = None) -> Contribution:
    body = _check_message(reason)
    row = _locked(session, contribution_id)
    _move(session, row, "reject", actor_id=actor_id, ip=ip, action="admin.contribution.rejected", now=now)
    _message(session, row, actor_id, body, True)
    return row


# -- the one approval service -------------------------------------------------------------------------


@dataclass
class ApprovalResult:
    approved: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # id → why, in French


def _apply(session: Session, row: Contribution, *, actor_id: int, ip: str | None) -> dict:
    """Make the catalogue change the contribution proposes (through models.offer_edits); what it made."""
    p = row.payload or {}
    via = {"actor_id": actor_id, "ip": ip, "contribution_id": row.id}
    sources = [row.price_sheet_url]
    notes = f"Contribution n° {row.id}"
    if row.kind == "new_provider":
        provider = offer_edits.create_provider(session, p["name"], p.get("website", ""), **via)
        return {"provider_id": provider.id}
    if row.kind == "new_offer":
        offer = offer_edits.create_offer(session, int(p["provider_id"]), p["name"], p["option"], **via)
        row.offer_id = offer.id
        periods = offer_edits.add_prices(session, offer.id, row.valid_from, row.prices, status="single_source",
                                         sources=sources, notes=notes, **via)
        return {"offer_id": offer.id, "periods": [x.id for x in periods]}
    if row.offer_id is None:
        raise ContributionRefused("L'offre concernée n'existe plus.")
    if row.kind == "price_change":
        periods = offer_edits.add_prices(session, row.offer_id, row.valid_from, row.prices, status="single_source",
                                         sources=sources, notes=notes, **via)
        return {"offer_id": row.offer_id, "periods": [x.id for x in periods]}
    if row.kind == "rename_offer":
        offer_edits.rename_offer(session, row.offer_id, p["name"], **via)
        return {"offer_id": row.offer_id}
    raise ContributionRefused("Contribution d'un ancien format : elle ne peut qu'être refusée.")


def approve(session: Session, contribution_ids: list[int], *, actor_id: int, ip: str | None,
            now: datetime | None = None) -> ApprovalResult:
    """Approve one or many contributions, in id order, each in a savepoint: a refused one changes nothing and is
    reported with its reason; the others are applied and marked approved (audited)."""
    result = ApprovalResult()
    for contribution_id in sorted(set(contribution_ids)):
        try:
            with session.begin_nested():
                row = _locked(session, contribution_id)
                made = _apply(session, row, actor_id=actor_id, ip=ip)
                _move(session, row, "approve", actor_id=actor_id, ip=ip, action="admin.contribution.approved",
                      now=now, made=made)
            result.approved.append(contribution_id)
        except OfferEditRefused as exc:
            result.refused[contribution_id] = exc.message
    return result


# -- what a moderator sees ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    what: str
    current: str
    proposed: str
    change: str  # "+1,2 %", "nouveau", "inchangé", ""


def _pct(old: Decimal, new: Decimal) -> str:
    if old == new:
        return "inchangé"
    if not old:
        return "nouveau"
    delta = (new - old) * 100 / old
    return f"{'+' if delta > 0 else ''}{delta:.1f} %".replace(".", ",")


def diff(session: Session, row: Contribution) -> list[DiffLine]:
    """The proposal against the offer as it stands today (its latest period per kVA)."""
    from models.costs.inputs import BUCKET_LABELS

    p = row.payload or {}
    fr = offer_edits.fr_number
    if row.kind == "rename_offer":
        current = row.offer.name if row.offer is not None else "(offre supprimée)"
        return [DiffLine("Nom de l'offre", current, p.get("name", ""), "renommage : les prix ne changent pas")]
    if row.kind == "new_provider":
        return [DiffLine("Fournisseur", "—", p.get("name", ""), "nouveau"),
                DiffLine("Site", "—", p.get("website") or "—", "")]
    lines = []
    latest: dict[int, OfferPrice] = {}
    if row.kind == "new_offer":
        provider = session.get(Provider, p.get("provider_id"))
        lines.append(DiffLine("Offre", "—", f"{provider.name if provider else '?'} – {p.get('name', '')} "
                                           f"({OPTION_RULES[p['option']].label})", "nouvelle"))
    elif row.offer_id is not None:
        latest = offer_edits.latest_periods(session, row.offer_id)
    if row.valid_from is not None:
        lines.append(DiffLine("En vigueur à partir du", "—", f"{row.valid_from:%d/%m/%Y}", ""))
    for entry in row.prices:
        now = latest.get(entry.kva)
        lines.append(DiffLine(f"{entry.kva} kVA · abonnement (€/mois)", fr(now.fixed_eur_month) if now else "—",
                              fr(entry.fixed_eur_month), _pct(now.fixed_eur_month, entry.fixed_eur_month) if now
                              else "nouveau"))
        energy = now.energy if now else {}
        for bucket, value in entry.energy.items():
            old = energy.get(bucket)
            lines.append(DiffLine(f"{entry.kva} kVA · {BUCKET_LABELS.get(bucket, bucket)} (€/kWh)",
                                  fr(old) if old is not None else "—", fr(value),
                                  _pct(old, value) if old is not None else "nouveau"))
        if now is not None:
            since = f"{now.valid_from:%d/%m/%Y}"
            lines.append(DiffLine(f"{entry.kva} kVA · période actuelle", f"depuis le {since}",
                                  f"close le {row.valid_from:%d/%m/%Y}" if row.valid_from else "", ""))
    return lines
