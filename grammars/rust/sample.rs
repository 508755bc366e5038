use std::collections::HashMap;
use crate::shop::{Cart, pay::Card};
use super::audit as log;

pub const MAX_RETRIES: u32 = 3;

static GREETING: &str = "hi";

pub struct Order {
    id: String,
    items: Vec<Item>,
}

pub enum Item {
    Book,
    Pen,
}

/// Something an order can be sent to.
#[allow(dead_code)]
pub trait Submit {
    fn submit(&self) -> Result<(), String>;
}

impl Order {
    pub fn new(id: &str) -> Self {
        Order { id: id.to_string(), items: Vec::new() }
    }

    fn count(&self) -> usize {
        self.items.len()
    }
}

impl Submit for Order {
    fn submit(&self) -> Result<(), String> {
        let n = self.count();
        println!("{}", n);
        Ok(())
    }
}

mod helpers {
    pub fn index(orders: &[super::Order]) -> HashMap<String, usize> {
        HashMap::new()
    }
}

macro_rules! retry {
    ($e:expr) => { $e };
}

type OrderMap = HashMap<String, Order>;
