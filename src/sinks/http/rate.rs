//! Parts and rejects per minute over the last hour, for the Live page's chart: counted as each part
//! settles, by the wall clock's minute, in a ring of 60 minutes (a page opened now sees the last hour).

use serde::Serialize;

/// Minutes shown.
pub const MINUTES: usize = 60;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Minute {
    /// Minutes since the Unix epoch (UTC).
    pub minute: u64,
    pub parts: u64,
    /// Parts whose reject output fired.
    pub rejected: u64,
}

#[derive(Debug, Default)]
pub struct MinuteCounts {
    ring: Vec<Minute>,
}

impl MinuteCounts {
    /// One settled part at `minute` (a clock set back counts into the minute it says).
    pub fn count(&mut self, minute: u64, rejected: bool) {
        if self.ring.is_empty() {
            self.ring = vec![Minute::default(); MINUTES];
        }
        let slot = &mut self.ring[(minute % MINUTES as u64) as usize];
        if slot.minute != minute {
            *slot = Minute { minute, ..Minute::default() };
        }
        slot.parts += 1;
        slot.rejected += u64::from(rejected);
    }

    /// The hour up to `now` (the minute it is), oldest first, a minute without parts as zero.
    pub fn last_hour(&self, now: u64) -> Vec<Minute> {
        (now.saturating_sub(MINUTES as u64 - 1)..=now)
            .map(|m| {
                let kept = self.ring.get((m % MINUTES as u64) as usize).filter(|s| s.minute == m);
                kept.copied().unwrap_or(Minute { minute: m, ..Minute::default() })
            })
            .collect()
    }
}

/// The wall clock's minute since the Unix epoch.
pub fn minute_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_hour_has_sixty_minutes_and_a_minute_an_hour_old_is_forgotten() {
        let mut c = MinuteCounts::default();
        c.count(1000, false);
        c.count(1000, true);
        c.count(1059, false);
        let hour = c.last_hour(1059);
        assert_eq!(hour.len(), MINUTES);
        assert_eq!((hour[0].minute, hour[0].parts, hour[0].rejected), (1000, 2, 1));
        assert_eq!((hour[59].minute, hour[59].parts), (1059, 1));
        assert!(hour[1..59].iter().all(|m| m.parts == 0));
        // Minute 1060 takes minute 1000's slot: 1000 is more than an hour ago.
        c.count(1060, true);
        let hour = c.last_hour(1060);
        assert_eq!((hour[0].minute, hour[0].parts), (1001, 0));
        assert_eq!((hour[59].parts, hour[59].rejected), (1, 1));
        assert_eq!(hour.iter().map(|m| m.parts).sum::<u64>(), 2);
    }
}
