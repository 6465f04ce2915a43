//! Reading files, directories and stdin. (stub: to be implemented)

use super::{Input, Loaded};

pub fn load(inputs: &[Input]) -> Loaded {
    let _ = inputs;
    unimplemented!("inputs")
}

pub fn load_one_text(loaded: &mut Loaded, name: &str, text: String) {
    let _ = (loaded, name, text);
    unimplemented!("inputs")
}
