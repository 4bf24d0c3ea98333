//! One person's history as Tracking Spec messages, in time order: anonymous browsing on each
//! device, sign-up (with consent choices), logins that tie the other devices to the account,
//! purchases, email engagement, later consent changes and plan upgrades.
//!
//! About 3.6 messages per person on average: the demo must build 200,000 people in seconds,
//! so each kind of behaviour is there, but histories are short.

use super::people::{Account, Device, Person};
use super::rng::Rng;
use crate::output::value::rfc3339;
use serde_json::{json, Value as Json};

/// The demo's clock: every message is before it, and windowed queries are relative to it.
pub(crate) const DEMO_NOW: i64 = 1_780_272_000_000_000; // 2026-06-01T00:00:00Z
const DAY: i64 = 86_400_000_000;
/// How far back the history goes.
const HISTORY_DAYS: i64 = 120;

const PAGES: [&str; 6] = ["Home", "Pricing", "Blog", "Docs", "Product", "Careers"];
const SCREENS: [&str; 4] = ["Feed", "Search", "Product Detail", "Cart"];
const CATEGORIES: [&str; 5] = ["books", "electronics", "garden", "toys", "apparel"];
const CAMPAIGNS: [&str; 4] = ["welcome", "spring-sale", "newsletter-may", "win-back"];

/// Builds the messages of one person.
struct Journey<'p> {
    person: &'p Person,
    rng: Rng,
    now: i64,
    messages: Vec<Json>,
}

/// The messages of `person`, as Tracking Spec JSON in time order.
pub(crate) fn messages(seed: u64, person: &Person) -> Vec<Json> {
    let mut rng = Rng::new(seed ^ 0x5EED, u64::from(person.index));
    // First seen between 120 and 10 days ago, on a whole second.
    let first_seen_days_ago = 10 + rng.below((HISTORY_DAYS - 10) as u64) as i64;
    let start = DEMO_NOW - first_seen_days_ago * DAY + rng.below(86_400) as i64 * 1_000_000;
    let mut journey = Journey {
        person,
        rng,
        now: start,
        messages: Vec::new(),
    };
    match &person.account {
        None => journey.browse_anonymously(),
        Some(account) => {
            journey.browse_before_sign_up();
            journey.sign_up(account);
            journey.log_in_elsewhere(account);
            journey.shop(account);
            journey.read_email(account);
            journey.maybe_change_consent(account);
            journey.maybe_upgrade(account);
        }
    }
    journey.messages
}

impl Journey<'_> {
    /// Moves the clock forward: within a visit (seconds to minutes) or to a later visit
    /// (up to ten days), never past the demo's "now".
    fn tick(&mut self) -> String {
        let seconds = if self.rng.chance(0.6) {
            1 + self.rng.below(1_800)
        } else {
            self.rng.below(10 * 86_400)
        };
        let next = self.now + seconds as i64 * 1_000_000;
        if next < DEMO_NOW {
            self.now = next;
        }
        rfc3339(self.now)
    }

    fn times(&mut self, mean: f64) -> usize {
        (mean * self.person.activity * self.rng.unit() * 2.0).round() as usize
    }

    fn push(&mut self, mut message: Json) {
        let n = self.messages.len();
        message["messageId"] = json!(format!("demo-{}-{n}", self.person.index));
        message["timestamp"] = json!(self.tick());
        self.messages.push(message);
    }

    fn view(&mut self, device: &Device, user_id: Option<&str>) {
        let (kind, name) = if device.mobile {
            ("screen", *self.rng.pick(&SCREENS))
        } else {
            ("page", *self.rng.pick(&PAGES))
        };
        let path = format!("/{}", name.to_lowercase().replace(' ', "-"));
        self.push(json!({
            "type": kind,
            "name": name,
            "anonymousId": device.anonymous_id,
            "userId": user_id,
            "properties": {"path": path},
            "context": {"device": {"id": device.device_id}},
        }));
    }

    /// A visitor who never signs up: a view or two on each device (nothing ties the devices
    /// together, so each stays a profile of its own).
    fn browse_anonymously(&mut self) {
        let devices = self.person.devices.clone();
        for device in &devices {
            for _ in 0..=self.times(0.15) {
                self.view(device, None);
            }
        }
    }

    /// Views on the first device before signing up there.
    fn browse_before_sign_up(&mut self) {
        let device = self.person.devices[0].clone();
        for _ in 0..=self.times(0.15) {
            self.view(&device, None);
        }
    }

    fn sign_up(&mut self, account: &Account) {
        let device = self.person.devices[0].clone();
        self.push(json!({
            "type": "identify",
            "userId": account.user_id,
            "anonymousId": device.anonymous_id,
            "traits": {
                "email": account.email,
                "first_name": account.first_name,
                "last_name": account.last_name,
                "country": account.country,
                "plan": account.plan,
                "consent": {"email": account.email_consent, "ads": account.ads_consent},
            },
            "context": {"device": {"id": device.device_id}},
        }));
    }

    fn log_in_elsewhere(&mut self, account: &Account) {
        let devices = self.person.devices.clone();
        for device in devices.iter().skip(1) {
            // A visit before logging in makes this device a profile of its own until then.
            self.view(device, None);
            self.push(json!({
                "type": "track",
                "event": "Logged In",
                "userId": account.user_id,
                "anonymousId": device.anonymous_id,
                "context": {"device": {"id": device.device_id}},
            }));
        }
    }

    fn shop(&mut self, account: &Account) {
        for order in 0..self.times(0.35) {
            let revenue = (self.rng.below(29_000) + 1_000) as f64 / 100.0;
            let category = *self.rng.pick(&CATEGORIES);
            let items = 1 + self.rng.below(4);
            self.push(json!({
                "type": "track",
                "event": "Order Completed",
                "userId": account.user_id,
                "properties": {
                    "order_id": format!("o-{}-{order}", self.person.index),
                    "revenue": revenue,
                    "currency": "USD",
                    "category": category,
                    "items": items,
                },
            }));
        }
    }

    fn read_email(&mut self, account: &Account) {
        for _ in 0..self.times(0.3) {
            let campaign = *self.rng.pick(&CAMPAIGNS);
            let clicked = self.rng.chance(0.3);
            for event in std::iter::once("Email Opened").chain(clicked.then_some("Email Clicked")) {
                self.push(json!({
                    "type": "track",
                    "event": event,
                    "userId": account.user_id,
                    "properties": {"campaign": campaign},
                    "context": {"traits": {"email": account.email}},
                }));
            }
        }
    }

    /// Some people change their mind about email later (the latest choice wins).
    fn maybe_change_consent(&mut self, account: &Account) {
        if !self.rng.chance(0.1) {
            return;
        }
        self.push(json!({
            "type": "identify",
            "userId": account.user_id,
            "traits": {"consent": {"email": !account.email_consent}},
        }));
    }

    fn maybe_upgrade(&mut self, account: &Account) {
        if account.plan != "free" || !self.rng.chance(0.15) {
            return;
        }
        self.push(json!({
            "type": "identify",
            "userId": account.user_id,
            "traits": {"plan": "pro"},
        }));
        self.push(json!({
            "type": "track",
            "event": "Plan Upgraded",
            "userId": account.user_id,
            "properties": {"from": "free", "to": "pro"},
        }));
    }
}
